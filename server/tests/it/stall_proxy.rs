//! A TCP proxy that can stall: while paused it forwards nothing either way,
//! as a database that stopped answering (a long GC pause, a failover, a
//! saturated disk) looks from the server. Severed, the connections open
//! then go silent for good, while new ones pass: a computer that woke where
//! its old connections' route is gone (a NAT that forgot them, another
//! network), as its dashboard sees it. A severed connection closes only
//! when its client sends on it, as an unknown connection is reset; one the
//! client only listens on (a WebSocket) stays open and silent.
//! Connections and bytes are real; nothing is answered for the other end.

use std::net::{Ipv4Addr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct StallProxy {
    pub address: SocketAddr,
    gate: watch::Sender<Gate>,
}

/// What may pass: nothing while paused; nothing ever on the connections
/// accepted before `severed_below`.
#[derive(Clone, Copy, Default)]
struct Gate {
    paused: bool,
    severed_below: u64,
    /// Connections accepted so far.
    accepted: u64,
}

impl StallProxy {
    /// Listens on a free local port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("binding a proxy port");
        let address = listener.local_addr().expect("proxy address");
        let (gate, watching) = watch::channel(Gate::default());
        let accepted = gate.clone();
        tokio::spawn(async move {
            let mut index = 0;
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                let (reset, was_reset) = watch::channel(false);
                let toward_server = Direction {
                    index,
                    from_client: true,
                    gate: watching.clone(),
                    reset: reset.clone(),
                    was_reset: was_reset.clone(),
                };
                let toward_client = Direction {
                    from_client: false,
                    ..toward_server.clone()
                };
                tokio::spawn(forward(client_read, server_write, toward_server));
                tokio::spawn(forward(server_read, client_write, toward_client));
                index += 1;
                accepted.send_modify(|gate| gate.accepted = index);
            }
        });
        Self { address, gate }
    }

    /// A MongoDB connection string that goes through the proxy.
    pub fn mongodb_uri(&self) -> String {
        format!("mongodb://{}/?directConnection=true", self.address)
    }

    pub fn pause(&self) {
        self.gate.send_modify(|gate| gate.paused = true);
    }

    pub fn resume(&self) {
        self.gate.send_modify(|gate| gate.paused = false);
    }

    /// Every connection open now goes silent for good; later ones pass.
    pub fn sever(&self) {
        self.gate.send_modify(|gate| gate.severed_below = gate.accepted);
    }
}

/// One direction of the `index`th connection.
#[derive(Clone)]
struct Direction {
    index: u64,
    from_client: bool,
    gate: watch::Receiver<Gate>,
    /// Closes both directions (a severed connection the client sent on).
    reset: watch::Sender<bool>,
    was_reset: watch::Receiver<bool>,
}

/// Copies `from` to `to`, holding every chunk while the gate is shut for
/// this connection.
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut direction: Direction,
) {
    let mut buffer = vec![0; 64 * 1024];
    let mut was_reset = direction.was_reset.clone();
    loop {
        let read = tokio::select! {
            read = from.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return,
                Ok(read) => read,
            },
            _ = was_reset.wait_for(|reset| *reset) => return,
        };
        let index = direction.index;
        if direction.from_client && index < direction.gate.borrow().severed_below {
            direction.reset.send_replace(true);
            return;
        }
        tokio::select! {
            open = direction.gate.wait_for(|gate| !gate.paused && index >= gate.severed_below) => {
                if open.is_err() {
                    return;
                }
            }
            _ = was_reset.wait_for(|reset| *reset) => return,
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

/// The host and port of the MongoDB-compatible server the tests use.
pub fn mongodb_address() -> SocketAddr {
    let uri = crate::common::mongodb_uri();
    let authority = uri
        .trim_start_matches("mongodb://")
        .split(['/', '?'])
        .next()
        .and_then(|authority| authority.rsplit('@').next())
        .unwrap_or_default()
        .to_owned();
    use std::net::ToSocketAddrs;
    authority
        .to_socket_addrs()
        .ok()
        .and_then(|mut addresses| addresses.next())
        .unwrap_or_else(|| panic!("MONGODB_URI {uri} names no single host:port"))
}

impl crate::common::TestApp {
    /// A server whose database connections pass through a stall proxy,
    /// `adjust`ed, that has already taken one payment of `acme` (so its
    /// ingest key is looked up and remembered before the database stalls),
    /// and the proxy to stall it with.
    pub async fn behind_stall_proxy(adjust: impl FnOnce(&mut paypulse_server::config::Config)) -> (Self, StallProxy) {
        let proxy = StallProxy::start(mongodb_address()).await;
        let app = Self::spawn_with(|config| {
            config.database.mongodb_uri = proxy.mongodb_uri();
            adjust(config);
        })
        .await;
        app.create("acme", crate::common::card_payment("before_the_stall", 1.0))
            .await;
        (app, proxy)
    }
}
