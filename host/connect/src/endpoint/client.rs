//! The other commands' side of the endpoint: finds the running host of this user and asks it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use connect_event::Event;
use connect_plugins::PluginReport;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::endpoint_path;
use super::protocol::{
    version_mismatch, Answer, EndpointFile, Hello, HostStatus, PluginList, Published, Request,
    Watching, WindowLink, PROTOCOL_VERSION,
};

/// A connection to the running host of this user.
pub struct Client {
    endpoint: EndpointFile,
}

/// Why a request to the running host failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The host could not be reached, or went away.
    #[error("cannot reach the running host: {0}")]
    Io(#[from] std::io::Error),
    /// The host answered with something this client cannot read.
    #[error("the running host answered with something that is not an answer: {0}")]
    Protocol(#[from] serde_json::Error),
    /// The host speaks another protocol version.
    #[error("{0}")]
    Version(String),
    /// The host refused the request, saying why.
    #[error("the running host refused: {0}")]
    Refused(String),
}

impl Client {
    /// The running host of this user, if `endpoint.json` names one that answers.
    pub fn find(data_dir: &Path) -> Option<Client> {
        let bytes = std::fs::read(endpoint_path(data_dir)).ok()?;
        let endpoint: EndpointFile = serde_json::from_slice(&bytes).ok()?;
        // A host that died leaves its file behind: check that someone listens.
        TcpStream::connect_timeout(&endpoint.address, Duration::from_millis(500)).ok()?;
        Some(Client { endpoint })
    }

    /// Publishes `event` synchronously in the running host; returns the results.
    pub fn publish(&self, event: Event) -> Result<Vec<Value>, ClientError> {
        let (published, _) = self.open::<Published<Value>>(Request::Publish {
            event: Box::new(event),
        })?;
        Ok(published.results)
    }

    /// A one-time sign-in link to the running host's window.
    pub fn window_link(&self) -> Result<String, ClientError> {
        let (link, _) = self.open::<WindowLink>(Request::WindowLink)?;
        Ok(link.url)
    }

    /// The running host's plugins.
    pub fn plugins(&self) -> Result<Vec<PluginReport>, ClientError> {
        let (list, _) = self.open::<PluginList>(Request::Plugins)?;
        Ok(list.plugins)
    }

    /// The running host's status (see [`crate::Host::status`]).
    pub fn status(&self) -> Result<Value, ClientError> {
        let (status, _) = self.open::<HostStatus>(Request::Status)?;
        Ok(status.status)
    }

    /// Calls `each` with every dispatched event (matching `expression`) as a JSON line, until
    /// it returns false or the host goes away.
    pub fn watch(
        &self,
        expression: Option<&str>,
        mut each: impl FnMut(&str) -> bool,
    ) -> Result<(), ClientError> {
        let request = Request::Watch {
            expression: expression.map(str::to_string),
        };
        let (Watching {}, mut lines) = self.open::<Watching>(request)?;
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line)? == 0 || !each(line.trim_end()) {
                return Ok(());
            }
        }
    }

    /// Sends `request`; returns the answer's body and the connection, for what follows it.
    fn open<B: DeserializeOwned>(
        &self,
        request: Request,
    ) -> Result<(B, BufReader<TcpStream>), ClientError> {
        let hello = Hello {
            token: self.endpoint.token.clone(),
            protocol: PROTOCOL_VERSION,
        };
        let mut stream =
            TcpStream::connect_timeout(&self.endpoint.address, Duration::from_secs(5))?;
        let lines = format!(
            "{}\n{}\n",
            serde_json::to_string(&hello)?,
            serde_json::to_string(&request)?
        );
        stream.write_all(lines.as_bytes())?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let answer: Answer<B> = serde_json::from_str(&line)?;
        if answer.protocol != PROTOCOL_VERSION {
            return Err(ClientError::Version(version_mismatch(
                answer.protocol,
                PROTOCOL_VERSION,
            )));
        }
        match (answer.ok, answer.body) {
            (true, Some(body)) => Ok((body, reader)),
            (_, _) => Err(ClientError::Refused(
                answer.error.unwrap_or_else(|| "no reason given".into()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A client of a fake host that reads one request (hello and request lines) and answers
    /// it with `answer`, whatever was asked.
    fn client_of_host_answering(answer: String) -> Client {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut hello, mut request) = (String::new(), String::new());
            reader.read_line(&mut hello).unwrap();
            reader.read_line(&mut request).unwrap();
            writeln!(&stream, "{answer}").unwrap();
        });
        Client {
            endpoint: EndpointFile {
                address,
                token: "t".into(),
                pid: 1,
                window: None,
            },
        }
    }

    #[test]
    fn a_host_of_another_version_is_refused_saying_which_versions_met() {
        let others = [PROTOCOL_VERSION - 1, PROTOCOL_VERSION + 1];
        for version in others.into_iter().filter(|v| *v > 0) {
            // Whether it carried the request out or refused it: this client cannot read it.
            for answer in [
                format!(r#"{{"ok": true, "protocol": {version}, "plugins": []}}"#),
                format!(r#"{{"ok": false, "protocol": {version}, "error": "no"}}"#),
            ] {
                let error = client_of_host_answering(answer).plugins().unwrap_err();
                assert!(matches!(error, ClientError::Version(_)), "{error:?}");
                let said = error.to_string();
                assert!(
                    said.contains(&format!(
                        "the running host speaks endpoint protocol version {version} and this \
                         command version {PROTOCOL_VERSION}"
                    )) && said.contains("restart the host after an upgrade"),
                    "{said}"
                );
            }
        }
        // A host from before versions answers without one.
        let unversioned = r#"{"ok": true, "plugins": []}"#.to_string();
        let error = client_of_host_answering(unversioned).plugins().unwrap_err();
        assert!(error.to_string().contains("an unversioned one"), "{error}");
        // The same version is served.
        let same = format!(r#"{{"ok": true, "protocol": {PROTOCOL_VERSION}, "plugins": []}}"#);
        assert!(client_of_host_answering(same).plugins().unwrap().is_empty());
    }
}
