//! Which fetch stage fetches which movie, so a movie on two lists is fetched once per run.
//!
//! A stage claims a movie when one of its tasks picks it up, and settles the claim with the
//! outcome once the movie is saved (or not found, or failed). Another stage that wants the
//! same movie waits for that outcome instead of asking TMDB again; it never waits for a movie
//! nobody is working on, because a claim exists only while its owner's task runs. A claim
//! dropped without an outcome (the owner stopped: a rejected key, Ctrl-C) is abandoned, and a
//! waiter claims the movie itself.
//!
//! Movies saved by an earlier attempt of the run (`--resume`) start out settled.
//!
//! Settled claims are kept only in a run of several fetch stages: a stage's own feed hands
//! each movie over once, so in a run of one (a catalog mirror) nobody asks again, and keeping
//! an entry for every movie would grow with the catalog (100 bytes a movie, 116 MB at TMDB's
//! 1.16 million).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// What happened to a claimed movie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Saved, with its ledger row.
    Saved,
    /// TMDB answered 404.
    NotFound,
    /// Failed after the owner's retries; the owner's error.
    Failed(String),
}

/// Who settled a claim, and how.
type Settlement = (String, Outcome);

enum Entry {
    Settled(Settlement),
    InFlight(watch::Receiver<Option<Settlement>>),
}

/// The run's claims, shared by its fetch stages.
pub struct Claims {
    map: Mutex<HashMap<i64, Entry>>,
    /// Whether settled claims stay for stages that ask later (see the module doc).
    keep_settled: bool,
}

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claims").finish_non_exhaustive()
    }
}

/// The answer to [`Claims::claim`].
pub enum Claim {
    /// This stage fetches the movie and must settle the guard.
    Mine(ClaimGuard),
    /// `owner` already settled it.
    Settled { owner: String, outcome: Outcome },
}

/// A claim held by the task fetching the movie.
pub struct ClaimGuard {
    claims: Arc<Claims>,
    id: i64,
    tx: Option<watch::Sender<Option<Settlement>>>,
    owner: String,
}

impl Claims {
    /// The claims of a run with `fetch_stages` fetch stages.
    pub fn new(fetch_stages: usize) -> Self {
        Claims {
            map: Mutex::default(),
            keep_settled: fetch_stages > 1,
        }
    }

    /// Settled claims for movies an earlier attempt of the run saved, by stage.
    pub fn preload(&self, saved: impl IntoIterator<Item = (i64, String)>) {
        if !self.keep_settled {
            return;
        }
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        for (id, owner) in saved {
            map.entry(id)
                .or_insert(Entry::Settled((owner, Outcome::Saved)));
        }
    }

    /// Claims movie `id` for `stage`, waiting while another stage is fetching it.
    pub async fn claim(self: &Arc<Self>, id: i64, stage: &str) -> Claim {
        loop {
            let mut rx = {
                let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
                match map.get(&id) {
                    Some(Entry::Settled((owner, outcome))) => {
                        return Claim::Settled {
                            owner: owner.clone(),
                            outcome: outcome.clone(),
                        };
                    }
                    Some(Entry::InFlight(rx)) => rx.clone(),
                    None => {
                        let (tx, rx) = watch::channel(None);
                        map.insert(id, Entry::InFlight(rx));
                        return Claim::Mine(ClaimGuard {
                            claims: self.clone(),
                            id,
                            tx: Some(tx),
                            owner: stage.to_owned(),
                        });
                    }
                }
            };
            // The owner settles (the channel says how) or abandons (the sender is dropped
            // with the entry gone, and the loop claims it again).
            if let Ok(settled) = rx.wait_for(Option::is_some).await
                && let Some((owner, outcome)) = settled.clone()
            {
                return Claim::Settled { owner, outcome };
            }
        }
    }
}

impl ClaimGuard {
    /// Records the outcome and wakes the stages waiting for it.
    pub fn settle(mut self, outcome: Outcome) {
        let settled = (std::mem::take(&mut self.owner), outcome);
        {
            let mut map = self.claims.map.lock().unwrap_or_else(|e| e.into_inner());
            if self.claims.keep_settled {
                map.insert(self.id, Entry::Settled(settled.clone()));
            } else {
                map.remove(&self.id);
            }
        }
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Some(settled));
        }
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if self.tx.is_some() {
            let mut map = self.claims.map.lock().unwrap_or_else(|e| e.into_inner());
            map.remove(&self.id);
            // Dropping `tx` after the entry is gone wakes the waiters, who then claim it.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Claims movie 7 for `first` (which gets it), then starts `second` claiming it too.
    async fn claimed_with_a_waiter(
        claims: &Arc<Claims>,
        first: &str,
        second: &'static str,
    ) -> (ClaimGuard, tokio::task::JoinHandle<Claim>) {
        let Claim::Mine(guard) = claims.claim(7, first).await else {
            panic!("the first claim is mine");
        };
        let waiter = {
            let claims = claims.clone();
            tokio::spawn(async move { claims.claim(7, second).await })
        };
        tokio::task::yield_now().await;
        (guard, waiter)
    }

    #[tokio::test]
    async fn a_second_stage_waits_for_the_first_and_gets_its_outcome() {
        let claims = Arc::new(Claims::new(2));
        let (guard, waiter) = claimed_with_a_waiter(&claims, "popular", "top_rated").await;
        guard.settle(Outcome::Saved);
        match waiter.await.unwrap() {
            Claim::Settled { owner, outcome } => {
                assert_eq!(owner, "popular");
                assert_eq!(outcome, Outcome::Saved);
            }
            Claim::Mine(_) => panic!("the movie was already fetched"),
        }
    }

    #[tokio::test]
    async fn an_abandoned_claim_passes_to_the_waiter() {
        let claims = Arc::new(Claims::new(2));
        let (guard, waiter) = claimed_with_a_waiter(&claims, "popular", "top_rated").await;
        drop(guard);
        match waiter.await.unwrap() {
            Claim::Mine(g) => assert_eq!(g.owner, "top_rated"),
            Claim::Settled { .. } => panic!("nobody settled it"),
        }
    }

    #[tokio::test]
    async fn a_run_of_one_fetch_stage_keeps_no_settled_claim_but_waiters_get_the_outcome() {
        let claims = Arc::new(Claims::new(1));
        let (guard, waiter) = claimed_with_a_waiter(&claims, "catalog", "catalog").await;
        guard.settle(Outcome::NotFound);
        match waiter.await.unwrap() {
            Claim::Settled { owner, outcome } => {
                assert_eq!(owner, "catalog");
                assert_eq!(outcome, Outcome::NotFound);
            }
            Claim::Mine(_) => panic!("the movie was settled while the waiter waited"),
        }
        assert!(claims.map.lock().unwrap().is_empty(), "settled claims kept");
        claims.preload([(3, "catalog".to_string())]);
        assert!(
            claims.map.lock().unwrap().is_empty(),
            "preloaded claims kept"
        );
    }

    #[tokio::test]
    async fn preloaded_movies_are_settled() {
        let claims = Arc::new(Claims::new(2));
        claims.preload([(3, "popular".to_string())]);
        assert!(matches!(
            claims.claim(3, "other").await,
            Claim::Settled {
                outcome: Outcome::Saved,
                ..
            }
        ));
    }
}
