use clap::Parser as _;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ALLOT_LOG")
                .unwrap_or_else(|_| "warn,allot_server=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match allot_server::cli::run(allot_server::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("allot: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
