//! Survey templates: one row per version, its document beside the `latest` flag listings and
//! revisions use.

use csops_runtime::audit;
use csops_runtime::db;
use csops_runtime::db::Traced as _;
use csops_runtime::idempotency::{Key, Recorded};
use csops_runtime::outbox;
use csops_runtime::sql::Sql;
use csops_runtime::time;
use sqlx::AnyConnection;

use super::rows::DocRow;
use super::{from_doc, to_doc, Inserted, Store, StoreError, TEMPLATE};
use crate::domain::survey::Template;

async fn insert_version(conn: &mut AnyConnection, t: &Template) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO survey_templates (id, version, latest, doc, create_time) \
         VALUES ($1, $2, 1, $3, $4)",
    )
    .bind(&t.id)
    .bind(i64::from(t.version))
    .bind(to_doc(t))
    .bind(t.create_time.timestamp_micros())
    .execute(conn)
    .await?;
    Ok(())
}

fn read(rows: Vec<DocRow>) -> Result<Vec<Template>, StoreError> {
    rows.into_iter()
        .map(|DocRow { id, doc }| from_doc(&id, &doc))
        .collect()
}

impl Store {
    /// Inserts version 1 of a template with its retry key: `Replayed` when the key was
    /// recorded before, [`StoreError::Duplicate`] when the id is taken.
    pub async fn insert_template(
        &self,
        template: &Template,
        key: &Key,
    ) -> Result<Inserted, StoreError> {
        async {
            let mut tx = db::begin(&self.pool).await?;
            let produced = Recorded {
                resource_id: template.id.clone(),
                ref_id: String::new(),
            };
            match outbox::record_change(
                &mut tx,
                Some((key, &produced)),
                &[],
                template.create_time.timestamp_micros(),
            )
            .await
            {
                Ok(()) => {}
                Err(StoreError::Duplicate(_)) => return Ok(Inserted::Replayed),
                Err(e) => return Err(e),
            }
            insert_version(&mut tx, template).await?;
            let now = template.create_time.timestamp_micros();
            audit::record(&mut tx, TEMPLATE, &template.id, now).await?;
            tx.commit().await?;
            Ok(Inserted::Created)
        }
        .traced(self.span("INSERT", "survey_templates", "feedback.insert_template"))
        .await
    }

    /// Writes the next version of a template if the version it revises is still the latest;
    /// `false` when another revision came first.
    pub async fn insert_revision(&self, template: &Template) -> Result<bool, StoreError> {
        async {
            let mut tx = db::begin(&self.pool).await?;
            let cleared = sqlx::query(
                "UPDATE survey_templates SET latest = 0 \
                 WHERE id = $1 AND version = $2 AND latest = 1",
            )
            .bind(&template.id)
            .bind(i64::from(template.version) - 1)
            .execute(&mut *tx)
            .await?;
            if cleared.rows_affected() != 1 {
                return Ok(false);
            }
            match insert_version(&mut tx, template).await {
                Ok(()) => {}
                Err(StoreError::Duplicate(_)) => return Ok(false),
                Err(e) => return Err(e),
            }
            audit::record(&mut tx, TEMPLATE, &template.id, time::now_micros()).await?;
            tx.commit().await?;
            Ok(true)
        }
        .traced(self.span("INSERT", "survey_templates", "feedback.insert_revision"))
        .await
    }

    /// Returns one version of a template, or its latest when `version` is `None`.
    pub async fn get_template(
        &self,
        id: &str,
        version: Option<i32>,
    ) -> Result<Option<Template>, StoreError> {
        let mut sql = Sql::new("SELECT id, doc FROM survey_templates WHERE 1 = 1");
        sql.bind(" AND id = $?", id);
        match version {
            Some(v) => sql.bind(" AND version = $?", i64::from(v)),
            None => sql.push(" AND latest = 1"),
        };
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let row: Option<DocRow> = sql.query_as().fetch_optional(&mut *conn).await?;
            row.map(|DocRow { id, doc }| from_doc(&id, &doc))
                .transpose()
        }
        .traced(self.span("SELECT", "survey_templates", "feedback.get_template"))
        .await
    }

    /// Returns up to `limit` latest versions, by id, after the id `after`.
    pub async fn list_templates(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Template>, StoreError> {
        let mut sql = Sql::new("SELECT id, doc FROM survey_templates WHERE latest = 1");
        if let Some(id) = after {
            sql.bind(" AND id > $?", id);
        }
        sql.bind(" ORDER BY id LIMIT $?", i64::from(limit));
        async {
            let mut conn = db::acquire(&self.pool).await?;
            let rows: Vec<DocRow> = sql.query_as().fetch_all(&mut *conn).await?;
            db::returned_rows(rows.len());
            read(rows)
        }
        .traced(self.span("SELECT", "survey_templates", "feedback.list_templates"))
        .await
    }
}
