//! A stable-toolchain mutational fuzzer for allot-odata, for machines without nightly.
//!
//! `cargo run --release --bin odata-fuzz -- --seconds 600 [--seed N]`
//!
//! It starts from a corpus of real Graph queries, mutates them (token insertion from an OData
//! dictionary, deletion, duplication, splicing, byte changes), runs `allot_odata_fuzz::check` on
//! each input under `catch_unwind`, keeps inputs that parse (they mutate into deeper ones), and
//! writes any input that panics to `artifacts/`. It prints executions, rate and panics.

use std::panic;
use std::time::{Duration, Instant};

const SEEDS: &[&str] = &[
    "assignedLicenses/any(x:x/skuId eq 184efa21-98c3-4e5d-95ab-d07053a96e67)",
    "assignedLicenses/any(x:x/skuId in (184efa21-98c3-4e5d-95ab-d07053a96e67, c7df2760-2c81-4ef7-b578-5b5392b571df))",
    "not assignedLicenses/any(x:x/skuId eq 184efa21-98c3-4e5d-95ab-d07053a96e67)",
    "assignedLicenses/$count eq 0",
    "services/any(c:c/planId in (113feb6e-3880-4a0e-9e1a-3e4bc2d8c6b9))",
    "hasMembersWithLicenseErrors eq true",
    "startswith(displayName,'Ad''a') and usageLocation eq 'US' or accountEnabled ne false",
    "endswith(mail,'@contoso.com') and createdDateTime ge 2024-01-01T10:20:30.5+02:00",
    "usageLocation eq null and not (id in ('a', 'b'))",
    "a/all(x:x/b/any(y:y/c le -1.5e3)) and d lt 2024-02-29",
    "allotment($filter=skuId in (639dec6b-bb19-468b-871c-c5c441c4b0cb, a403ebcc-fae0-4ca2-8c8c-7a907fd6c235))",
    "assignedTo,allotment($select=id,skuId;$top=5)",
    "\"displayName:ada\" AND \"mail:x\" OR \"surname:lo\"",
    "displayName desc, userPrincipalName asc",
    "id,displayName,assignedLicenses",
];

const DICT: &[&str] = &[
    " ", "(", ")", "((", "))", ",", ":", "/", "'", "''", "\"", ";", "=", " and ", " or ", "not ", " eq ",
    " ne ", " gt ", " ge ", " lt ", " le ", " in (", "null", "true", "false", "/any(", "/all(", "x:",
    "x/", "/$count", "$count", "$filter=", "$select=", "$top=", "startswith(", "endswith(", "contains(",
    "assignedLicenses", "skuId", "displayName", "usageLocation", "id", "0", "-1", "1.5", "1e308",
    "9223372036854775808", "184efa21-98c3-4e5d-95ab-d07053a96e67", "2024-01-01", "2024-01-01T00:00:00Z",
    "T25:99Z", "é", "\u{0}", " AND ", " OR ", "\"a:b\"", "desc", "asc",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            usize::try_from(self.next() % u64::try_from(n).unwrap_or(1)).unwrap_or(0)
        }
    }
}

fn mutate(rng: &mut Rng, corpus: &[Vec<u8>], input: &mut Vec<u8>) {
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = input.len();
        match rng.below(8) {
            0 | 1 => {
                let tok = DICT[rng.below(DICT.len())].as_bytes();
                let at = rng.below(len + 1);
                input.splice(at..at, tok.iter().copied());
            }
            2 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(16));
                input.drain(at..at + n);
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(32));
                let piece: Vec<u8> = input[at..at + n].to_vec();
                let to = rng.below(input.len() + 1);
                input.splice(to..to, piece);
            }
            4 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                let cut = rng.below(input.len() + 1);
                let from = rng.below(other.len() + 1);
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
            5 if len > 0 => {
                let at = rng.below(len);
                const BYTES: &[u8] = b"()',:/ $-.0aZ\"";
                input[at] = BYTES[rng.below(BYTES.len())];
            }
            6 if len > 0 => {
                let at = rng.below(len);
                input[at] = u8::try_from(rng.below(256)).unwrap_or(0);
            }
            _ => {
                // Repeat a token many times: nesting and length limits.
                let tok = DICT[rng.below(DICT.len())].as_bytes();
                let times = 1 + rng.below(2000);
                let at = rng.below(len + 1);
                let rep: Vec<u8> = tok.iter().copied().cycle().take(tok.len() * times).collect();
                input.splice(at..at, rep);
            }
        }
        if input.len() > 64 * 1024 {
            input.truncate(64 * 1024);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let seconds = arg("--seconds").unwrap_or(10);
    let seed = arg("--seed").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| u64::try_from(d.as_nanos() % u128::from(u64::MAX)).unwrap_or(1))
            | 1
    });
    if let Some(i) = args.iter().position(|a| a == "--replay") {
        // Time one input: `--replay FILE` runs it 1,000 times through the parser and the checks.
        let input = std::fs::read(&args[i + 1]).expect("readable input file");
        let t = Instant::now();
        for _ in 0..1000 {
            let _ = std::str::from_utf8(&input).map(allot_odata::parse_filter);
        }
        let parse = t.elapsed() / 1000;
        let t = Instant::now();
        for _ in 0..1000 {
            allot_odata_fuzz::check(&input);
        }
        println!("{} bytes: parse_filter {parse:?}, all checks {:?}", input.len(), t.elapsed() / 1000);
        return;
    }
    panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(seed);
    let mut corpus: Vec<Vec<u8>> = SEEDS.iter().map(|s| s.as_bytes().to_vec()).collect();
    let (mut execs, mut panics, mut parsed, mut slowest) = (0u64, 0u64, 0u64, Duration::ZERO);
    let mut slowest_input: Vec<u8> = Vec::new();
    let started = Instant::now();
    let deadline = Duration::from_secs(seconds);
    let mut last_report = Instant::now();
    std::fs::create_dir_all("artifacts").ok();
    while started.elapsed() < deadline {
        let mut input = corpus[rng.below(corpus.len())].clone();
        mutate(&mut rng, &corpus, &mut input);
        let t = Instant::now();
        let result = panic::catch_unwind(|| allot_odata_fuzz::check(&input));
        let took = t.elapsed();
        if took > slowest {
            slowest = took;
            slowest_input.clone_from(&input);
        }
        execs += 1;
        if result.is_err() {
            panics += 1;
            let path = format!("artifacts/panic-{execs}.txt");
            std::fs::write(&path, &input).ok();
            eprintln!("PANIC on input written to {path}: {:?}", String::from_utf8_lossy(&input));
        }
        let ok = std::str::from_utf8(&input).is_ok_and(|s| allot_odata::parse_filter(s).is_ok());
        if ok {
            parsed += 1;
        }
        if (ok || rng.below(100) == 0) && input.len() < 4096 {
            if corpus.len() < 20_000 {
                corpus.push(input);
            } else {
                let at = rng.below(corpus.len());
                corpus[at] = input;
            }
        }
        if last_report.elapsed() > Duration::from_secs(30) {
            last_report = Instant::now();
            eprintln!(
                "#{execs} {:.0}s corpus {} parsed {parsed} panics {panics}",
                started.elapsed().as_secs_f64(),
                corpus.len()
            );
        }
    }
    let secs = started.elapsed().as_secs_f64();
    // The slowest single run includes scheduler noise on a shared machine: time that input
    // again, best of 20, to tell noise from a slow input.
    let again = (0..20)
        .map(|_| {
            let t = Instant::now();
            allot_odata_fuzz::check(&slowest_input);
            t.elapsed()
        })
        .min()
        .unwrap_or_default();
    std::fs::write("artifacts/slowest.txt", &slowest_input).ok();
    println!(
        "odata-fuzz seed {seed}: {execs} executions in {secs:.0} s ({:.0}/s), {parsed} inputs parsed as $filter, \
         corpus {}, slowest run {:.2} ms (that input again: {:.3} ms), panics: {panics}",
        execs as f64 / secs,
        corpus.len(),
        slowest.as_secs_f64() * 1000.0,
        again.as_secs_f64() * 1000.0
    );
    if panics > 0 {
        std::process::exit(1);
    }
}
