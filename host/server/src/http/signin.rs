//! The browser sign-in's routes: `GET /user/api_credentials` shows the page, `POST` confirms
//! it and sends the browser back to the client with a new key. The rules they apply are
//! `crate::signin`'s.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::api::Api;
use crate::signin::{self, SignInRefusal};
use crate::users;

/// `GET /user/api_credentials?identifier=...&redirect_url=...`: the page.
pub(super) async fn page(
    State(api): State<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !peer.ip().is_loopback() {
        return refuse(SignInRefusal::NotLocal);
    }
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    let (identifier, redirect_url) = (field("identifier"), field("redirect_url"));
    match api.sign_ins().open(identifier, redirect_url) {
        Ok(token) => Html(signin::page(identifier, redirect_url, &token)).into_response(),
        Err(refusal) => refuse(refusal),
    }
}

/// The confirmation form's fields.
#[derive(serde::Deserialize)]
pub(super) struct Confirmation {
    token: String,
    username: String,
}

/// `POST /user/api_credentials`: the confirmation; redirects to the client with the key.
pub(super) async fn confirm(
    State(api): State<Arc<Api>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Confirmation>,
) -> Response {
    if !peer.ip().is_loopback() {
        return refuse(SignInRefusal::NotLocal);
    }
    let own_origin = format!("http://{}", api.address());
    let origin = headers.get("origin").and_then(|o| o.to_str().ok());
    if origin != Some(own_origin.as_str()) {
        return refuse(SignInRefusal::ForeignOrigin);
    }
    let pending = match api.sign_ins().take(&form.token) {
        Ok(pending) => pending,
        Err(refusal) => return refuse(refusal),
    };
    let checking = api.clone();
    let username = form.username.trim().to_string();
    let asked = username.clone();
    let label = pending.label().to_string();
    let key = tokio::task::spawn_blocking(move || users::add_key(checking.db(), &asked, &label))
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    let Some(key) = key else {
        return refuse(SignInRefusal::NoSuchUser);
    };
    tracing::info!(
        "sign-in: a new API key for {username} ({})",
        pending.identifier
    );
    Redirect::to(&pending.redirect(&username, &key)).into_response()
}

fn refuse(refusal: SignInRefusal) -> Response {
    (refusal.status(), Html(signin::refusal_page(refusal))).into_response()
}
