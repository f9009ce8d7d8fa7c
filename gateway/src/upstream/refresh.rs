//! When the manager lists an upstream again: the freshness hint of its lists (`ttlMs`, MCP
//! 2026-07-28, SEP-2549) bounded by the target's `syncInterval`, so the gateway follows an
//! upstream's own statement of how long its lists stay valid without depending on
//! `subscriptions/listen` (which some servers answer with 404).
//!
//! - A positive `ttlMs`: re-list `ttlMs` + [`TTL_MARGIN`] after the sync, never sooner than
//!   [`MIN_REFRESH`] (a tiny ttl must not become a busy loop against the upstream) and never later
//!   than `syncInterval`.
//! - `ttlMs` 0 or absent: no freshness promise; re-list at `syncInterval`. The specification reads
//!   0 as "immediately stale, re-fetch when needed", and an absent value as 0; but SDKs send 0
//!   whenever the server author gave no hint (rmcp's and the Python SDK's servers fill it in), so
//!   polling every such server at the floor would hammer servers that never asked for it. The
//!   gateway's answer to "stale" is its `syncInterval` plus `list_changed` where the upstream
//!   sends it.
//! - One sync lists tools, prompts, resources and templates together, so the shortest positive
//!   hint among them decides.

use std::time::Duration;

/// The shortest time between two syncs that a `ttlMs` can ask for.
pub const MIN_REFRESH: Duration = Duration::from_secs(5);
/// Added to a `ttlMs`, so that the re-list reaches the upstream after its own cache expired
/// rather than just before.
pub const TTL_MARGIN: Duration = Duration::from_millis(500);

/// What decided the time of the next sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RefreshBasis {
    /// The lists' `ttlMs` (plus the margin).
    Ttl,
    /// A `ttlMs` shorter than [`MIN_REFRESH`]: the floor.
    TtlFloor,
    /// No usable `ttlMs` (0, absent, or longer than the interval): the target's `syncInterval`.
    SyncInterval,
}

/// When to sync next, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refresh {
    /// Time from the end of the sync to the next one.
    pub after: Duration,
    /// What decided it.
    pub basis: RefreshBasis,
}

/// The freshness hint of one sync: the shortest `ttlMs` of the lists it fetched. `None` when no
/// list carried one. A 0 counts only when no list gave a positive hint (0 means "no promise",
/// which a positive hint of another list does not contradict).
pub fn merge_hints(hints: impl IntoIterator<Item = Option<u64>>) -> Option<u64> {
    let given: Vec<u64> = hints.into_iter().flatten().collect();
    given
        .iter()
        .copied()
        .filter(|t| *t > 0)
        .min()
        .or_else(|| given.first().map(|_| 0))
}

/// When to sync next, given the sync's merged hint and the target's interval.
pub fn next_refresh(ttl_ms: Option<u64>, sync_interval: Duration) -> Refresh {
    let interval = Refresh {
        after: sync_interval,
        basis: RefreshBasis::SyncInterval,
    };
    let Some(ttl) = ttl_ms.filter(|t| *t > 0) else {
        return interval;
    };
    let wanted = Duration::from_millis(ttl).saturating_add(TTL_MARGIN);
    if wanted >= sync_interval {
        return interval;
    }
    if wanted < MIN_REFRESH {
        return Refresh {
            after: MIN_REFRESH.min(sync_interval),
            basis: RefreshBasis::TtlFloor,
        };
    }
    Refresh {
        after: wanted,
        basis: RefreshBasis::Ttl,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_MINUTES: Duration = Duration::from_secs(300);

    #[test]
    fn no_hint_or_zero_means_the_sync_interval() {
        for hint in [None, Some(0)] {
            assert_eq!(
                next_refresh(hint, FIVE_MINUTES),
                Refresh {
                    after: FIVE_MINUTES,
                    basis: RefreshBasis::SyncInterval
                },
                "{hint:?}"
            );
        }
    }

    #[test]
    fn a_ttl_is_followed_with_a_margin_within_floor_and_interval() {
        assert_eq!(
            next_refresh(Some(60_000), FIVE_MINUTES),
            Refresh {
                after: Duration::from_millis(60_500),
                basis: RefreshBasis::Ttl
            }
        );
        // Tiny ttls hit the floor instead of turning into a busy loop.
        for tiny in [1, 100, 4_499] {
            assert_eq!(
                next_refresh(Some(tiny), FIVE_MINUTES),
                Refresh {
                    after: MIN_REFRESH,
                    basis: RefreshBasis::TtlFloor
                },
                "{tiny}"
            );
        }
        assert_eq!(
            next_refresh(Some(4_500), FIVE_MINUTES).basis,
            RefreshBasis::Ttl
        );
        // A ttl longer than the interval (or absurdly long) does not stretch it.
        for long in [299_500, 3_600_000, u64::MAX] {
            assert_eq!(
                next_refresh(Some(long), FIVE_MINUTES),
                Refresh {
                    after: FIVE_MINUTES,
                    basis: RefreshBasis::SyncInterval
                },
                "{long}"
            );
        }
    }

    #[test]
    fn the_floor_never_exceeds_a_shorter_interval() {
        let short = Duration::from_secs(2);
        assert_eq!(next_refresh(Some(1), short).after, short);
    }

    #[test]
    fn the_shortest_positive_hint_of_a_sync_decides() {
        assert_eq!(merge_hints([None, None]), None);
        assert_eq!(merge_hints([Some(0), None]), Some(0));
        assert_eq!(
            merge_hints([Some(0), Some(30_000), Some(10_000)]),
            Some(10_000)
        );
        assert_eq!(merge_hints([None, Some(30_000)]), Some(30_000));
        assert_eq!(merge_hints(std::iter::empty()), None);
    }
}
