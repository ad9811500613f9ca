//! `ftrack-connect server`: the local ftrack-compatible server (`connect-server`), and its
//! API users (`server user add|list|remove`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use connect_server::Database;
use connect_server::{users, Server, ServerOptions, DEFAULT_PORT};

use super::fail;

/// `server`'s arguments.
#[derive(Args)]
pub struct ServerArgs {
    #[command(subcommand)]
    command: Option<ServerCommand>,
    /// The address to listen on (port 0: the OS picks one) [default: 127.0.0.1:8431]
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// The server's data folder (database and files) [default: the user data folder's `server`]
    #[arg(long, value_name = "DIR", global = true)]
    data: Option<PathBuf>,
    /// Allow listening on an address other machines can reach.
    #[arg(long)]
    allow_remote: bool,
}

#[derive(Subcommand)]
enum ServerCommand {
    /// The API users of the server's data folder.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user and print its new API key (the last word of the last line; shown once).
    Add {
        /// The user name (`FTRACK_API_USER`).
        name: String,
    },
    /// List the users.
    List,
    /// Remove a user (its key stops working).
    Remove {
        /// The user name.
        name: String,
    },
}

/// Runs `server ...`.
pub fn run(args: ServerArgs, user_data_dir: &Path) -> ExitCode {
    let data = args
        .data
        .clone()
        .unwrap_or_else(|| user_data_dir.join("server"));
    match args.command {
        Some(ServerCommand::User(command)) => user(command, &data),
        None => serve(&args, data),
    }
}

fn user(command: UserCommand, data: &Path) -> ExitCode {
    let db = match Database::open(data) {
        Ok(db) => db,
        Err(err) => return fail(&err.to_string()),
    };
    let outcome = match command {
        UserCommand::Add { name } => users::add(&db, &name).map(|key| {
            outln!(
                "user {name} added to {}; API key (shown once): {key}",
                data.display()
            );
        }),
        UserCommand::List => users::list(&db).map(|list| {
            for user in list {
                outln!("{}\tadded {}", user.username, user.created);
            }
        }),
        UserCommand::Remove { name } => users::remove(&db, &name).map(|removed| {
            if removed {
                outln!("user {name} removed");
            } else {
                eprintln!("no user {name}");
            }
        }),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&err.to_string()),
    }
}

fn serve(args: &ServerArgs, data: PathBuf) -> ExitCode {
    let options = ServerOptions {
        listen: args
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT))),
        data,
        allow_remote: args.allow_remote,
    };
    // Requests run on blocking threads, and a query's parse and compilation recurse with its
    // nesting (up to `query::MAX_DEPTH`): room for that.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(16 << 20)
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start the server's runtime: {err}")),
    };
    runtime.block_on(async {
        let server = match Server::bind(&options).await {
            Ok(server) => server,
            Err(err) => return fail(&err.to_string()),
        };
        // The one line scripts and tests read the address from.
        outln!("listening on {}", server.url());
        let _ = std::io::stdout().flush();
        tracing::info!("ftrack server listening on {}", server.url());
        match server.run(shutdown_signal()).await {
            Ok(()) => {
                tracing::info!("server stopped");
                ExitCode::SUCCESS
            }
            Err(err) => fail(&format!("the server failed: {err}")),
        }
    })
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            }
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
