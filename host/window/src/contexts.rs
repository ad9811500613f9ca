//! The entity browser's data: where an artist picks the context to work in (projects, then
//! their sequences, shots and tasks), as Connect's context selector does.
//!
//! - `GET /api/contexts`: the projects;
//! - `GET /api/contexts?parent=ID`: the contexts right under one, fetched when it is opened
//!   (the browser is lazy: a studio's tree is never read whole);
//! - `GET /api/contexts?search=TEXT`: contexts whose name contains `TEXT` (at most 50);
//! - `GET /api/contexts?mine=1`: the tasks assigned to the signed-in user ("my tasks");
//! - `GET /api/contexts/{id}`: one context with its path (`link`), for the breadcrumbs;
//! - `GET /api/recent` and `POST /api/recent`: the contexts last picked, newest first, kept
//!   in the host's data folder so that they outlive the window and the host.
//!
//! Every answer is `{"contexts": [Context...]}` where a context is `{id, name, type, link}`:
//! `type` the entity type (`Project`, `Shot`, `Task`, ...) and `link` the path from the project,
//! `[{id, name, type}]`, as ftrack's `link` attribute gives it.
//!
//! The queries are built here from ids and text the browser sends. An id must look like one
//! (letters, digits, `-`, `_`); search text loses the quotes and backslashes that could end
//! its string: a page cannot turn a search into another query.

use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{blocking_result, Failure};
use crate::{App, WindowHost};

/// The attributes every listed context carries.
const FIELDS: &str = "id, name, link";

/// How many contexts a search returns.
const SEARCH_LIMIT: usize = 50;

/// How many recent contexts are kept.
const RECENT_KEPT: usize = 8;

/// `GET /api/contexts`'s parameters: at most one of them.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Listing {
    parent: Option<String>,
    search: Option<String>,
    mine: Option<String>,
}

/// The query a listing asks for, or why it cannot be asked.
fn listing_query(listing: &Listing) -> Result<String, Failure> {
    if let Some(parent) = &listing.parent {
        let parent = checked_id(parent)?;
        return Ok(format!(
            "select {FIELDS} from TypedContext where parent_id is \"{parent}\" order by name"
        ));
    }
    if let Some(search) = &listing.search {
        let text: String = search
            .chars()
            .filter(|c| !matches!(c, '"' | '\\' | '%'))
            .take(100)
            .collect();
        let text = text.trim();
        if text.is_empty() {
            return Err(Failure::bad_request("type part of a name to search for"));
        }
        return Ok(format!(
            "select {FIELDS} from Context where name like \"%{text}%\" \
             order by name limit {SEARCH_LIMIT}"
        ));
    }
    Ok(format!("select {FIELDS} from Project order by name"))
}

/// The tasks assigned to `user`: appointments point at a resource, so the user's id first.
fn my_tasks(host: &dyn WindowHost, user: &str) -> Result<Vec<Value>, Failure> {
    let user = user.replace(['"', '\\'], "");
    let found = host
        .query(&format!("select id from User where username is \"{user}\""))
        .map_err(Failure::host)?;
    let Some(id) = found.first().and_then(|u| u["id"].as_str()) else {
        return Ok(Vec::new());
    };
    let id = checked_id(id)?;
    host.query(&format!(
        "select {FIELDS} from Task where assignments any (resource_id is \"{id}\") \
         order by name"
    ))
    .map_err(Failure::host)
}

/// `id` if it looks like an entity id, else a 400.
pub(crate) fn checked_id(id: &str) -> Result<&str, Failure> {
    let looks_like_one = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if looks_like_one {
        Ok(id)
    } else {
        Err(Failure::bad_request("not an entity id"))
    }
}

/// A query result as the page shows it.
fn context_of(entity: &Value) -> Value {
    let link: Vec<Value> = entity
        .get("link")
        .and_then(Value::as_array)
        .map(|steps| {
            steps
                .iter()
                .map(|step| json!({ "id": step["id"], "name": step["name"], "type": step["type"] }))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "id": entity["id"],
        "name": entity["name"],
        "type": entity["__entity_type__"],
        "link": link,
    })
}

/// The signed-in user's name, from the host's status.
fn api_user(status: &Value) -> String {
    status
        .pointer("/server/api_user")
        .or_else(|| status.get("api_user"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

pub(crate) async fn list(State(app): State<App>, Query(listing): Query<Listing>) -> Response {
    blocking_result(app.host.clone(), move |host| {
        let found = if listing.mine.is_some() {
            my_tasks(host, &api_user(&host.status()))?
        } else {
            host.query(&listing_query(&listing)?)
                .map_err(Failure::host)?
        };
        Ok(json!({ "contexts": found.iter().map(context_of).collect::<Vec<_>>() }))
    })
    .await
}

pub(crate) async fn one(State(app): State<App>, UrlPath(id): UrlPath<String>) -> Response {
    blocking_result(app.host.clone(), move |host| {
        let id = checked_id(&id)?;
        let found = host
            .query(&format!(
                "select {FIELDS} from Context where id is \"{id}\""
            ))
            .map_err(Failure::host)?;
        match found.first() {
            Some(entity) => Ok(json!({ "contexts": [context_of(entity)] })),
            None => Err(Failure::not_found("no such context")),
        }
    })
    .await
}

/// The recent contexts' file.
fn recent_file(state_dir: &Path) -> PathBuf {
    state_dir.join("recent-contexts.json")
}

/// The recent contexts as kept; an unreadable or malformed file is an empty list (it only
/// remembers, it never decides anything).
fn read_recent(state_dir: &Path) -> Vec<Value> {
    std::fs::read(recent_file(state_dir))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|value| value.get("contexts").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

pub(crate) async fn recent(State(app): State<App>) -> Response {
    Json(json!({ "contexts": read_recent(&app.state_dir) })).into_response()
}

/// `POST /api/recent`'s body: the id of the context just picked. The context is read from
/// the server, not taken from the page, so the list only ever holds what exists.
#[derive(Debug, Deserialize)]
pub(crate) struct Picked {
    id: String,
}

pub(crate) async fn remember(State(app): State<App>, Json(picked): Json<Picked>) -> Response {
    let state_dir = app.state_dir.clone();
    blocking_result(app.host.clone(), move |host| {
        let id = checked_id(&picked.id)?;
        let found = host
            .query(&format!(
                "select {FIELDS} from Context where id is \"{id}\""
            ))
            .map_err(Failure::host)?;
        let context = found
            .first()
            .map(context_of)
            .ok_or_else(|| Failure::not_found("no such context"))?;
        let mut contexts = read_recent(&state_dir);
        contexts.retain(|kept| kept["id"] != context["id"]);
        contexts.insert(0, context);
        contexts.truncate(RECENT_KEPT);
        let kept = json!({ "contexts": contexts });
        let written = std::fs::create_dir_all(&state_dir)
            .and_then(|()| std::fs::write(recent_file(&state_dir), kept.to_string()));
        if let Err(err) = written {
            tracing::warn!(
                "window: cannot remember recent contexts in {}: {err}",
                state_dir.display()
            );
        }
        Ok(kept)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query_for(listing: Listing) -> Result<String, Failure> {
        listing_query(&listing)
    }

    #[test]
    fn page_input_never_ends_a_quoted_string() {
        let search = query_for(Listing {
            search: Some(r#"sh" or name like "%"#.into()),
            ..Listing::default()
        })
        .unwrap();
        assert_eq!(
            search,
            "select id, name, link from Context where name like \"%sh or name like%\" \
             order by name limit 50"
        );
        assert!(query_for(Listing {
            parent: Some("1\" or id is \"2".into()),
            ..Listing::default()
        })
        .is_err());
        assert!(query_for(Listing {
            search: Some("\"\"".into()),
            ..Listing::default()
        })
        .is_err());
    }

    #[test]
    fn each_listing_asks_its_own_query() {
        assert!(query_for(Listing::default())
            .unwrap()
            .ends_with("from Project order by name"));
        assert!(query_for(Listing {
            parent: Some("a1-b2".into()),
            ..Listing::default()
        })
        .unwrap()
        .contains("where parent_id is \"a1-b2\""));
    }

    #[test]
    fn a_result_becomes_a_context_with_its_path() {
        let entity = json!({
            "__entity_type__": "Task", "id": "t1", "name": "comp",
            "link": [
                {"id": "p1", "name": "Show", "type": "Project", "extra": 1},
                {"id": "t1", "name": "comp", "type": "TypedContext"}
            ]
        });
        assert_eq!(
            context_of(&entity),
            json!({"id": "t1", "name": "comp", "type": "Task", "link": [
                {"id": "p1", "name": "Show", "type": "Project"},
                {"id": "t1", "name": "comp", "type": "TypedContext"}
            ]})
        );
    }
}
