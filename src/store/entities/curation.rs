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
        /// The formula version (`stages::post::cri::FORMULA_VERSION`).
        pub version: i32,
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

// How popctl writes these tables: each one's natural key, and its rows from the list files
// and what the post-processing steps computed.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;

use crate::lists::CuratedList;
use crate::store::derived::{CriRow, ListItemRow};
use crate::store::sql::NaturalKey;

impl NaturalKey for curated_lists::Entity {
    const KEY: &'static [curated_lists::Column] = &[
        curated_lists::Column::AuthorityId,
        curated_lists::Column::Name,
        curated_lists::Column::Year,
    ];
}

impl curated_lists::ActiveModel {
    /// The definition (not the items) of `list`, under its authority's row id.
    pub(crate) fn definition(authority_id: i64, list: &CuratedList) -> Self {
        curated_lists::ActiveModel {
            authority_id: Set(authority_id),
            name: Set(list.name.clone()),
            year: Set(list.year),
            list_type: Set(list.list_type.as_str().to_owned()),
            source: Set(list.source.clone()),
            ..Default::default()
        }
    }
}

impl NaturalKey for movie_list_items::Entity {
    const KEY: &'static [movie_list_items::Column] = &[
        movie_list_items::Column::ListId,
        movie_list_items::Column::MovieId,
        movie_list_items::Column::AwardCategory,
    ];
}

impl movie_list_items::ActiveModel {
    pub(crate) fn new(list_id: i64, item: ListItemRow) -> Self {
        movie_list_items::ActiveModel {
            list_id: Set(list_id),
            movie_id: Set(item.movie_id),
            award_category: Set(item.category),
            position: Set(item.position),
            award_result: Set(item.result.map(str::to_owned)),
            ..Default::default()
        }
    }
}

impl NaturalKey for cri_scores::Entity {
    const KEY: &'static [cri_scores::Column] =
        &[cri_scores::Column::MovieId, cri_scores::Column::Version];
}

impl cri_scores::ActiveModel {
    pub(crate) fn new(version: i32, s: &CriRow, computed_at: DateTime<Utc>) -> Self {
        cri_scores::ActiveModel {
            movie_id: Set(s.movie_id),
            version: Set(version),
            overall: Set(s.overall),
            timelessness: Set(s.timelessness),
            cultural_penetration: Set(s.cultural_penetration),
            artistic_impact: Set(s.artistic_impact),
            institutional_recognition: Set(s.institutional_recognition),
            public_reception: Set(s.public_reception),
            confidence: Set(Some(s.confidence)),
            computed_at: Set(computed_at),
            ..Default::default()
        }
    }
}
