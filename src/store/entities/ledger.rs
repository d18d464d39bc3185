//! The run ledger: runs and the items each run worked on; and how far the database is in
//! step with TMDB's catalog.

pub mod import_runs {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "import_runs")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub plan_name: String,
        pub plan_hash: String,
        pub started_at: DateTimeUtc,
        pub finished_at: Option<DateTimeUtc>,
        pub status: String,
        /// The run report as JSON text.
        #[sea_orm(column_type = "Text", nullable)]
        pub stats: Option<String>,
        #[sea_orm(has_many)]
        pub items: HasMany<super::import_items::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod import_items {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "import_items")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub run_id: i64,
        pub stage: String,
        pub item_key: String,
        /// `pending`, `ok`, `failed` or `skipped`.
        pub status: String,
        pub attempts: i32,
        #[sea_orm(column_type = "Text", nullable)]
        pub last_error: Option<String>,
        pub updated_at: DateTimeUtc,
        /// The worker holding the item (pending) or that finished it; NULL for a run of one
        /// process (see `store::cluster`).
        pub claimed_by: Option<i64>,
        /// Until when `claimed_by` holds a pending item; after that another worker may take it.
        pub lease_until: Option<DateTimeUtc>,
        #[sea_orm(belongs_to, from = "run_id", to = "id", on_delete = "Cascade")]
        pub run: BelongsTo<super::import_runs::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod import_workers {
    use sea_orm::entity::prelude::*;

    /// One worker process of a run (see `store::cluster`).
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "import_workers")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub run_id: i64,
        pub host: String,
        pub pid: i64,
        /// The local address its upstream requests leave from, when it was given one.
        pub address: Option<String>,
        pub started_at: DateTimeUtc,
        pub heartbeat_at: DateTimeUtc,
        pub stopped_at: Option<DateTimeUtc>,
        pub items_done: i64,
        pub requests: i64,
        /// The lease it claims items under, in milliseconds; NULL for rows from before.
        pub lease_ms: Option<i64>,
        #[sea_orm(belongs_to, from = "run_id", to = "id", on_delete = "Cascade")]
        pub run: BelongsTo<super::import_runs::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod import_stages {
    use sea_orm::entity::prelude::*;

    /// A stage of a run as the workers see it: `open` to them, or `ended`.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "import_stages")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub run_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub stage: String,
        pub state: String,
        pub updated_at: DateTimeUtc,
        #[sea_orm(belongs_to, from = "run_id", to = "id", on_delete = "Cascade")]
        pub run: BelongsTo<super::import_runs::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod import_budgets {
    use sea_orm::entity::prelude::*;

    /// The next free request slot of a source whose workers share one rate (see
    /// `store::cluster::take_slot`).
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "import_budgets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub run_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub source: String,
        pub next_at: DateTimeUtc,
        #[sea_orm(belongs_to, from = "run_id", to = "id", on_delete = "Cascade")]
        pub run: BelongsTo<super::import_runs::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod import_quotas {
    use sea_orm::entity::prelude::*;

    /// The requests a run made of a source with a daily quota on one UTC day (`YYYY-MM-DD`),
    /// by all of its processes (see `store::quota`).
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "import_quotas")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub run_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub source: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub day: String,
        pub used: i64,
        #[sea_orm(belongs_to, from = "run_id", to = "id", on_delete = "Cascade")]
        pub run: BelongsTo<super::import_runs::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod import_worker_stages {
    use sea_orm::entity::prelude::*;

    /// What one worker of a shared run did in one stage (see
    /// `store::cluster::record_stage`).
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "import_worker_stages")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub worker_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub stage: String,
        pub items: i64,
        pub requests: i64,
        pub retries: i64,
        pub rate_limited: i64,
        pub rows: i64,
        #[sea_orm(belongs_to, from = "worker_id", to = "id", on_delete = "Cascade")]
        pub worker: BelongsTo<super::import_workers::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod catalog_sync {
    use sea_orm::entity::prelude::*;

    /// The sync watermark of one TMDB source: the database holds TMDB's catalog as of
    /// `synced_to` (see `store::catalog`).
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "catalog_sync")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub source: String,
        pub synced_to: Date,
        pub run_id: i64,
        pub updated_at: DateTimeUtc,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

// How popctl writes `import_items`: its natural key.

impl crate::store::sql::NaturalKey for import_items::Entity {
    const KEY: &'static [import_items::Column] = &[
        import_items::Column::RunId,
        import_items::Column::Stage,
        import_items::Column::ItemKey,
    ];
}
