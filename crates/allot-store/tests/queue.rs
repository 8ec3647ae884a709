//! The licensing job queue across tenants, on SQLite and PostgreSQL: a long fan-out yields to
//! another tenant's waiting job after each step, and resumes where it stopped.

use allot_core::ids::SkuId;
use allot_core::licensing::{AddLicense, LicenseChange};
use allot_core::tenant_file::TenantFile;
use allot_store::dual_backend_test;
use allot_store::group_licensing::{CHUNK, JobKind, ProcessingMode};
use allot_store::records::User;

const EMS: &str = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e";
const LEASE: i64 = 10_000_000;

fn file() -> TenantFile {
    let tenant = |name: &str| {
        format!(
            "  - displayName: {name}\n    defaultDomain: {name}.example\n    subscriptions: [{{sku: EMS, enabled: 20000}}]\n    groups: [{{displayName: All}}]\n"
        )
    };
    TenantFile::parse(&format!("tenants:\n{}{}", tenant("big"), tenant("small"))).unwrap()
}

fn ems() -> LicenseChange {
    LicenseChange {
        add: vec![AddLicense {
            sku: SkuId::parse(EMS).unwrap(),
            disabled_plans: vec![],
        }],
        remove: vec![],
    }
}

dual_backend_test!(a_long_fan_out_yields_to_another_tenant_after_each_step, |db| {
    let file = file();
    db.store.apply_tenant_file(&file).await.unwrap();
    let (big, small) = (&file.tenants[0], &file.tenants[1]);
    // The big tenant's group needs two steps; the small tenant's one.
    let users: Vec<User> = (0..CHUNK + 10)
        .map(|i| {
            User::new(
                big.tenant_id(),
                format!("u{i}@big.example"),
                format!("U{i}"),
                Some("US".into()),
            )
        })
        .collect();
    db.store.bulk_insert_users(&users).await.unwrap();
    let ids: Vec<_> = users.iter().map(|u| u.id).collect();
    let big_group = big.group_id(&big.groups[0]);
    db.store
        .bulk_add_members(big.tenant_id(), big_group, &ids)
        .await
        .unwrap();
    db.store
        .assign_group_licenses(big.tenant_id(), big_group, &ems())
        .await
        .unwrap();
    let mode = ProcessingMode::Async;
    let mut job = db
        .store
        .claim_job("w", LEASE, mode, None, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.kind, JobKind::Group(big_group));
    // Alone, the job keeps the worker.
    let step = db.store.run_job_step(&mut job, LEASE).await.unwrap();
    assert!(!step.done);
    assert!(!db.store.yield_job_if_others_wait(&job, mode).await.unwrap());
    // Another tenant's work arrives: the big job gives the worker back after its step.
    let small_group = small.group_id(&small.groups[0]);
    db.store
        .assign_group_licenses(small.tenant_id(), small_group, &ems())
        .await
        .unwrap();
    assert!(db.store.yield_job_if_others_wait(&job, mode).await.unwrap());
    let next = db
        .store
        .claim_job("w", LEASE, mode, None, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        next.kind,
        JobKind::Group(small_group),
        "the other tenant goes first"
    );
    let mut next = next;
    while !db.store.run_job_step(&mut next, LEASE).await.unwrap().done {}
    // Then the big job resumes at its cursor and finishes.
    let mut again = db
        .store
        .claim_job("w", LEASE, mode, None, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.id, job.id);
    assert_eq!(
        (again.cursor_seq, again.cursor_id),
        (job.cursor_seq, job.cursor_id)
    );
    while !db.store.run_job_step(&mut again, LEASE).await.unwrap().done {}
    let all = db.store.assignments_for(big.tenant_id(), &ids).await.unwrap();
    assert_eq!(all.len(), ids.len());
    assert!(db.store.check().await.unwrap().problems.is_empty());
});
