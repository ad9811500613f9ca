//! `ftrack-connect login` and `logout`: signing in to an ftrack server as Connect does, and
//! keeping the sign-in in Connect's own `credentials.json`.
//!
//! The server is checked first (`GET /` answers with `FTRACK_VERSION`), then the credentials
//! are tried (`query_server_information`), and only then stored. For a person, `login URL`
//! opens the server's sign-in page in the browser with a loopback `redirect_url`, and waits
//! for the browser to come back there with `api_user` and `api_key`. For scripts, `login URL
//! --api-user NAME` takes the key from `FTRACK_API_KEY` or the first line of standard input,
//! never from the command line (where other users could see it in the process list).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use connect_core::ApiKey;
use connect_ftrack_api::server_version;
use ftrack_connect::credentials;

use super::{fail, usage_error};

/// How long `login` waits for the browser.
const BROWSER_WAIT: Duration = Duration::from_secs(300);

/// `login`'s arguments.
#[derive(Args)]
pub struct LoginArgs {
    /// The ftrack server (`https://studio.ftrackapp.com`, or a site name) [default: FTRACK_SERVER]
    #[arg(value_name = "SERVER_URL")]
    server_url: Option<String>,
    /// Sign in as this user with the key from FTRACK_API_KEY or standard input (no browser).
    #[arg(long, value_name = "NAME")]
    api_user: Option<String>,
}

/// Runs `login`.
pub fn login(args: &LoginArgs, data_dir: &Path) -> ExitCode {
    let Some(server) = args
        .server_url
        .clone()
        .or_else(|| std::env::var("FTRACK_SERVER").ok())
        .filter(|s| !s.trim().is_empty())
    else {
        return usage_error("give the server to sign in to (or set FTRACK_SERVER)");
    };
    let server = credentials::site_url(server.trim());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start: {err}")),
    };
    let version = match runtime.block_on(server_version(&server)) {
        Ok(version) => version,
        Err(err) => {
            return fail(&format!(
                "{server} is not an ftrack server this can sign in to: {err}"
            ))
        }
    };
    let (user, key) = match &args.api_user {
        Some(user) => match key_from_environment_or_stdin() {
            Some(key) => (user.clone(), key),
            None => return usage_error("give the API key in FTRACK_API_KEY or on standard input"),
        },
        None => match through_the_browser(&server) {
            Ok(signed) => signed,
            Err(why) => return fail(&why),
        },
    };
    if let Err(why) = runtime.block_on(credentials::try_key(&server, &user, &key)) {
        return fail(&why);
    }
    match credentials::store(data_dir, &server, &user, &key) {
        Ok(path) => {
            outln!(
                "signed in to {server} (ftrack {version}) as {user}; kept in {}",
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(err) => fail(&format!("cannot store the sign-in: {err}")),
    }
}

/// Runs `logout`.
pub fn logout(data_dir: &Path) -> ExitCode {
    match credentials::remove(data_dir) {
        Ok(Some((server, user))) => {
            outln!("signed out of {server} ({user})");
            ExitCode::SUCCESS
        }
        Ok(None) => {
            outln!("nobody was signed in");
            ExitCode::SUCCESS
        }
        Err(err) => fail(&format!("cannot sign out: {err}")),
    }
}

fn key_from_environment_or_stdin() -> Option<ApiKey> {
    if let Some(key) = std::env::var("FTRACK_API_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty())
    {
        return Some(ApiKey::new(key.trim()));
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    let key = line.trim();
    (!key.is_empty()).then(|| ApiKey::new(key))
}

/// Opens the server's sign-in page and waits for the browser to bring the user and key back
/// to a loopback port of this process.
fn through_the_browser(server: &str) -> Result<(String, ApiKey), String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot listen on loopback: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let identifier = format!(
        "ftrack-connect-{}@{}",
        credentials::os_user_name(),
        gethostname()
    );
    let page = format!(
        "{server}/user/api_credentials?identifier={}&redirect_url={}",
        encode(&identifier),
        encode(&format!("http://localhost:{port}"))
    );
    outln!("sign in in your browser: {page}");
    let _ = std::io::stdout().flush();
    let _ = super::browser::open(&page);
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + BROWSER_WAIT;
    loop {
        match listener.accept() {
            Ok((mut stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut request = String::new();
                let _ = BufReader::new(&mut stream).read_line(&mut request);
                let query = request
                    .split_whitespace()
                    .nth(1)
                    .and_then(|target| target.split_once('?'))
                    .map(|(_, query)| query.to_string())
                    .unwrap_or_default();
                let field = |name: &str| {
                    form_urlencoded::parse(query.as_bytes())
                        .find(|(key, _)| key == name)
                        .map(|(_, value)| value.into_owned())
                };
                let (user, key) = (field("api_user"), field("api_key"));
                let answer = if user.is_some() && key.is_some() {
                    "Signed in to ftrack: you can close this page."
                } else {
                    "This is not a sign-in: no user and key came back."
                };
                let mut rest = [0u8; 4096];
                let _ = stream.set_nonblocking(true);
                let _ = stream.read(&mut rest);
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                if let (Some(user), Some(key)) = (user, key) {
                    return Ok((user, ApiKey::new(key)));
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    return Err(format!(
                        "no sign-in came back within {} minutes",
                        BROWSER_WAIT.as_secs() / 60
                    ));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(err) => return Err(format!("waiting for the browser: {err}")),
        }
    }
}

fn gethostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// `text` as a query value (`form_urlencoded`, as the link's reader decodes it).
fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_come_back_as_sent_and_sites_are_urls() {
        let query = format!("api_user={}", encode("jane.doe@studio x&y=z"));
        let back: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].1, "jane.doe@studio x&y=z");
        assert_eq!(
            credentials::site_url("studio"),
            "https://studio.ftrackapp.com"
        );
        assert_eq!(
            credentials::site_url("http://127.0.0.1:8431/"),
            "http://127.0.0.1:8431"
        );
    }
}
