//! Curated lists (definitions from `data/lists/`), their items linked to movies, and CRI scores.

pub mod curated_lists {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "curated_lists")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub authority_id: i64,
        pub name: String,
        pub year: i32,
        /// `ranked`, `unranked` or `award`.
        pub list_type: String,
        /// Where the list comes from (a URL or a citation).
        #[sea_orm(column_type = "Text")]
        pub source: String,
        #[sea_orm(belongs_to, from = "authority_id", to = "id", on_delete = "Cascade")]
        pub authority: BelongsTo<super::super::reference::cultural_authorities::Entity>,
        #[sea_orm(has_many)]
        pub items: HasMany<super::movie_list_items::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod movie_list_items {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "movie_list_items")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub list_id: i64,
        pub movie_id: i64,
        pub position: Option<i32>,
        /// "" for lists without categories (part of the key, so never NULL).
        pub award_category: String,
        /// `won` or `nominated`.
        pub award_result: Option<String>,
        #[sea_orm(belongs_to, from = "list_id", to = "id", on_delete = "Cascade")]
        pub list: BelongsTo<super::curated_lists::Entity>,
        #[sea_orm(belongs_to, from = "movie_id", to = "id", on_delete = "Cascade")]
        pub movie: BelongsTo<super::super::movie::movies::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod cri_scores {
    use sea_orm::entity::prelude::*;

    /// The Cultural Relevance Index of a movie for one formula version.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "cri_scores")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub movie_id: i64,
        pub version: String,
        pub overall: f64,
        pub timelessness: f64,
        pub cultural_penetration: f64,
        pub artistic_impact: f64,
        pub institutional_recognition: f64,
        pub public_reception: f64,
        pub confidence: Option<f64>,
        pub computed_at: DateTimeUtc,
        #[sea_orm(belongs_to, from = "movie_id", to = "id", on_delete = "Cascade")]
        pub movie: BelongsTo<super::super::movie::movies::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}
