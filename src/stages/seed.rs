//! `seed`: reference data every import needs, from the files under the plan's data folder
//! (`store::seed`). The genres are TMDB's own, asked from the plan's first TMDB source when it
//! has one (`Plan::source_of`) (`/genre/movie/list`); without one, `seed/genres.toml` stands in.

use crate::sources::RequestError;
use async_trait::async_trait;

use super::{Counters, Stage, StageContext, StageOutcome};
use crate::plan::SeedStage;
use crate::store;

pub struct Seed(pub SeedStage);

#[async_trait]
impl Stage for Seed {
    async fn run(&self, cx: &mut StageContext) -> StageOutcome {
        let c = cx.counters.clone();
        Counters::add(&c.total, 1);
        let plan = &cx.run.plan;
        let tmdb = plan
            .source_of(&cx.stage)
            .and_then(|name| cx.run.sources.tmdb.get(name));
        let genres = match tmdb {
            Some(tmdb) => {
                cx.pacer.wait().await;
                match tmdb.genres(&cx.retrier()).await {
                    Ok(fetched) => {
                        c.request(fetched.attempts, fetched.rate_limited);
                        Some(fetched.value)
                    }
                    Err(e) => {
                        let (attempts, rate_limited) = e.cost();
                        c.request(attempts, rate_limited);
                        Counters::add(&c.failed, 1);
                        return StageOutcome::Failed(e.to_string());
                    }
                }
            }
            _ => None,
        };
        let data_dir = cx.run.plan.data.dir.clone();
        match store::seed::seed(cx.db(), &self.0.sets, genres, &data_dir).await {
            Ok(stats) => {
                Counters::add(&c.ok, 1);
                Counters::add(
                    &c.rows,
                    stats.external_sources + stats.genres + stats.authorities + stats.lists,
                );
                for w in stats.warnings {
                    cx.note(w);
                }
                StageOutcome::Done
            }
            Err(e) => {
                Counters::add(&c.failed, 1);
                StageOutcome::Failed(e.to_string())
            }
        }
    }
}
