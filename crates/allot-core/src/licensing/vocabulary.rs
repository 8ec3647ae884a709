//! The licensing vocabulary, once: what "holds a license", "in error", "waiting" and "an
//! assignment error" mean for a row's state and error, and the order of the waiting room. Each word
//! is a predicate here and a SQL spelling next to it (a macro, so that it can sit in `const`
//! tables and in `concat!`); the store and the OData layer use only these spellings, and
//! `allot-store`'s vocabulary test checks on both backends that each SQL text selects exactly
//! the states its predicate accepts and sorts as [`seat_order`] does.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AssignmentErrorCode, AssignmentState};

/// The row gives the user the SKU (and so consumes a unit): `Active` or `ActiveWithError`.
#[must_use]
pub const fn holds_license(state: AssignmentState) -> bool {
    matches!(state, AssignmentState::Active | AssignmentState::ActiveWithError)
}

/// The row is in error (`Error`, or held but with an error): `membersWithLicenseErrors`.
#[must_use]
pub const fn in_error(state: AssignmentState) -> bool {
    matches!(state, AssignmentState::Error | AssignmentState::ActiveWithError)
}

/// The member waits for a unit of the SKU: a group row that failed only for lack of units.
#[must_use]
pub const fn is_waiting(state: AssignmentState, error: AssignmentErrorCode) -> bool {
    matches!(state, AssignmentState::Error) && matches!(error, AssignmentErrorCode::CountViolation)
}

/// A cloudLicensing assignment error: in error for a reason of its own (not units, which wait,
/// and not a sibling SKU's failure, `Other`).
#[must_use]
pub const fn is_assignment_error(state: AssignmentState, error: AssignmentErrorCode) -> bool {
    in_error(state)
        && !matches!(
            error,
            AssignmentErrorCode::None | AssignmentErrorCode::CountViolation | AssignmentErrorCode::Other
        )
}

/// The `code` of a cloudLicensing `assignmentError` for a row's error (spec §2.13: the docs show
/// `MissingDependency`; the others follow the design document's names, inferred).
#[must_use]
pub const fn cloud_error_code(error: AssignmentErrorCode) -> &'static str {
    match error {
        AssignmentErrorCode::DependencyViolation => "MissingDependency",
        AssignmentErrorCode::MutuallyExclusiveViolation => "MutuallyExclusiveServicePlans",
        AssignmentErrorCode::ProhibitedInUsageLocationViolation => "InvalidUsageLocation",
        AssignmentErrorCode::UniquenessViolation => "ProxyAddressConflict",
        AssignmentErrorCode::None | AssignmentErrorCode::CountViolation | AssignmentErrorCode::Other => {
            "Other"
        }
    }
}

/// One waiting member's place in its waiting room: since when it waits, its membership order
/// in the group (`None` when the membership is gone) and its object id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitingPlace {
    pub since: DateTime<Utc>,
    pub membership_seq: Option<i64>,
    pub user: Uuid,
}

/// The waiting room's order (FIFO): who waits longest first, then membership order, then id.
#[must_use]
pub fn seat_order(a: &WaitingPlace, b: &WaitingPlace) -> Ordering {
    (a.since, a.membership_seq.unwrap_or(0), a.user).cmp(&(b.since, b.membership_seq.unwrap_or(0), b.user))
}

/// [`holds_license`] on the `license_assignments` row aliased `$a`.
#[macro_export]
macro_rules! sql_holds_license {
    ($a:literal) => {
        concat!($a, ".state IN ('Active', 'ActiveWithError')")
    };
}

/// [`in_error`] on the row aliased `$a`.
#[macro_export]
macro_rules! sql_in_error {
    ($a:literal) => {
        concat!($a, ".state IN ('Error', 'ActiveWithError')")
    };
}

/// [`is_waiting`] on the row aliased `$a`.
#[macro_export]
macro_rules! sql_is_waiting {
    ($a:literal) => {
        concat!($a, ".state = 'Error' AND ", $a, ".error = 'CountViolation'")
    };
}

/// [`is_assignment_error`] on the row aliased `$a`.
#[macro_export]
macro_rules! sql_is_assignment_error {
    ($a:literal) => {
        concat!(
            $crate::sql_in_error!($a),
            " AND ",
            $a,
            ".error NOT IN ('None', 'CountViolation', 'Other')"
        )
    };
}

/// [`seat_order`] as an `ORDER BY` list over the row aliased `$a` (`updated_at` is when it went
/// into the waiting room, `user_id` the member) and its membership `$m` (left-joined).
#[macro_export]
macro_rules! sql_seat_order {
    ($a:literal, $m:literal) => {
        concat!($a, ".updated_at, COALESCE(", $m, ".seq, 0), ", $a, ".user_id")
    };
}

/// [`cloud_error_code`] of the row aliased `$a`, as a SQL expression.
#[macro_export]
macro_rules! sql_cloud_error_code {
    ($a:literal) => {
        concat!(
            "CASE ",
            $a,
            ".error WHEN 'DependencyViolation' THEN 'MissingDependency' \
             WHEN 'MutuallyExclusiveViolation' THEN 'MutuallyExclusiveServicePlans' \
             WHEN 'ProhibitedInUsageLocationViolation' THEN 'InvalidUsageLocation' \
             WHEN 'UniquenessViolation' THEN 'ProxyAddressConflict' ELSE 'Other' END"
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_agree_with_the_state_methods() {
        for s in [
            AssignmentState::Active,
            AssignmentState::ActiveWithError,
            AssignmentState::Disabled,
            AssignmentState::Error,
        ] {
            assert_eq!(holds_license(s), s.holds_license());
        }
        assert!(is_waiting(
            AssignmentState::Error,
            AssignmentErrorCode::CountViolation
        ));
        assert!(!is_waiting(
            AssignmentState::ActiveWithError,
            AssignmentErrorCode::CountViolation
        ));
        assert!(!is_assignment_error(
            AssignmentState::Error,
            AssignmentErrorCode::CountViolation
        ));
        assert!(is_assignment_error(
            AssignmentState::ActiveWithError,
            AssignmentErrorCode::DependencyViolation
        ));
        assert_eq!(
            sql_is_assignment_error!("a"),
            "a.state IN ('Error', 'ActiveWithError') AND a.error NOT IN ('None', 'CountViolation', 'Other')"
        );
    }
}
