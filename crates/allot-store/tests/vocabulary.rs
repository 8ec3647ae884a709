//! The licensing vocabulary (`allot_core::licensing::vocabulary`) on both backends: each SQL
//! spelling selects exactly the rows its predicate accepts, for every state and error, and the
//! waiting room's `ORDER BY` sorts as `seat_order` does.

use std::collections::BTreeSet;

use allot_core::ids::{GroupId, TenantId, UserId};
use allot_core::licensing::vocabulary::{
    WaitingPlace, holds_license, in_error, is_assignment_error, is_waiting, seat_order,
};
use allot_core::licensing::{AssignmentErrorCode, AssignmentState};
use allot_core::tenant_file::TenantFile;
use allot_store::dual_backend_test;
use allot_store::records::{Group, User};
use allot_store::testkit::TestDb;
use chrono::{TimeZone, Utc};

const STATES: [AssignmentState; 4] = [
    AssignmentState::Active,
    AssignmentState::ActiveWithError,
    AssignmentState::Disabled,
    AssignmentState::Error,
];

const ERRORS: [AssignmentErrorCode; 7] = [
    AssignmentErrorCode::None,
    AssignmentErrorCode::CountViolation,
    AssignmentErrorCode::MutuallyExclusiveViolation,
    AssignmentErrorCode::DependencyViolation,
    AssignmentErrorCode::ProhibitedInUsageLocationViolation,
    AssignmentErrorCode::UniquenessViolation,
    AssignmentErrorCode::Other,
];

/// A vocabulary word as core decides it.
type Word = dyn Fn(AssignmentState, AssignmentErrorCode) -> bool;

const SKU: &str = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e";

/// A tenant, `n` users and a group, ready for hand-written rows.
async fn world(db: &TestDb, n: usize) -> (TenantId, Vec<UserId>, GroupId) {
    let file = TenantFile::parse(
        "tenants:\n  - displayName: Words\n    defaultDomain: words.example\n    subscriptions: [{sku: EMS, enabled: 5}]\n",
    )
    .unwrap();
    db.store.apply_tenant_file(&file).await.unwrap();
    let tenant = file.tenants[0].tenant_id();
    let users: Vec<User> = (0..n)
        .map(|i| User::new(tenant, format!("u{i}@words.example"), format!("U{i}"), None))
        .collect();
    db.store.bulk_insert_users(&users).await.unwrap();
    let group = Group {
        id: GroupId::new(),
        tenant_id: tenant,
        display_name: "G".into(),
        description: None,
        mail_nickname: "g".into(),
        mail_enabled: false,
        security_enabled: true,
        group_types: vec![],
        assigned_licenses: vec![],
        created_at: allot_store::now(),
    };
    db.store.insert_group(&group).await.unwrap();
    (tenant, users.iter().map(|u| u.id).collect(), group.id)
}

/// One row from the group for `user`, in `state` with `error`, waiting since second `since`.
async fn row(
    db: &TestDb,
    tenant: TenantId,
    user: UserId,
    group: GroupId,
    state: &str,
    error: &str,
    since: u32,
) {
    let at = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, since)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S+00:00");
    db.execute(&format!(
        "INSERT INTO license_assignments (tenant_id, user_id, sku_id, source_group_id, disabled_plans, state, error, \
         assigned_at, updated_at) VALUES ('{tenant}', '{user}', '{SKU}', '{group}', '[]', '{state}', '{error}', '{at}', '{at}')"
    ))
    .await
    .unwrap();
}

async fn selected(db: &TestDb, predicate: &str) -> BTreeSet<String> {
    db.strings(&format!(
        "SELECT CAST(a.user_id AS TEXT) FROM license_assignments a WHERE {predicate}"
    ))
    .await
    .unwrap()
    .into_iter()
    .collect()
}

dual_backend_test!(every_sql_word_selects_what_its_predicate_accepts, |db| {
    let (tenant, users, group) = world(&db, STATES.len() * ERRORS.len()).await;
    let mut cases = Vec::new();
    for (i, (state, error)) in STATES
        .iter()
        .flat_map(|s| ERRORS.iter().map(move |e| (*s, *e)))
        .enumerate()
    {
        row(&db, tenant, users[i], group, state.as_str(), error.as_str(), 0).await;
        cases.push((users[i].to_string(), state, error));
    }
    let expect = |f: &Word| -> BTreeSet<String> {
        cases
            .iter()
            .filter(|(_, s, e)| f(*s, *e))
            .map(|(u, _, _)| u.clone())
            .collect()
    };
    let words: [(&str, &str, &Word); 4] = [
        ("holds a license", allot_core::sql_holds_license!("a"), &|s, _| {
            holds_license(s)
        }),
        ("in error", allot_core::sql_in_error!("a"), &|s, _| in_error(s)),
        ("waiting", allot_core::sql_is_waiting!("a"), &is_waiting),
        (
            "an assignment error",
            allot_core::sql_is_assignment_error!("a"),
            &is_assignment_error,
        ),
    ];
    for (word, sql, predicate) in words {
        let want = expect(predicate);
        assert!(
            !want.is_empty() && want.len() < cases.len(),
            "{word}: a real split"
        );
        assert_eq!(selected(&db, sql).await, want, "{word}: {sql}");
    }
});

dual_backend_test!(the_waiting_room_order_is_seat_order, |db| {
    // 40 waiting members over 5 distinct seconds, most with a membership (3 distinct orders),
    // so that every tie-break of the order is exercised.
    let n = 40;
    let (tenant, users, group) = world(&db, n).await;
    let mut places = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let since = u32::try_from(i * 7 % 5).unwrap();
        row(&db, tenant, *user, group, "Error", "CountViolation", since).await;
        let seq = (i % 4 != 0).then(|| i64::try_from(i % 3).unwrap() + 1);
        if let Some(seq) = seq {
            db.execute(&format!(
                "INSERT INTO group_members (tenant_id, group_id, member_id, member_type, added_at, seq) \
                 VALUES ('{tenant}', '{group}', '{user}', 'user', '2026-01-01 00:00:00+00:00', {seq})"
            ))
            .await
            .unwrap();
        }
        places.push(WaitingPlace {
            since: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, since).unwrap(),
            membership_seq: seq,
            user: user.as_uuid(),
        });
    }
    places.sort_by(seat_order);
    let want: Vec<String> = places.iter().map(|p| p.user.to_string()).collect();
    let got = db
        .strings(&format!(
            "SELECT CAST(a.user_id AS TEXT) FROM license_assignments a LEFT JOIN group_members m \
             ON m.group_id = a.source_group_id AND m.member_id = a.user_id WHERE {} ORDER BY {}",
            allot_core::sql_is_waiting!("a"),
            allot_core::sql_seat_order!("a", "m")
        ))
        .await
        .unwrap();
    assert_eq!(got, want);
    assert_ne!(
        want,
        {
            let mut by_id = want.clone();
            by_id.sort();
            by_id
        },
        "the order is not simply by id"
    );
});
