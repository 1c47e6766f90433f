//! A TCP proxy between a server and its MongoDB that can stall: while
//! paused it forwards nothing either way, as a database that stopped
//! answering (a long GC pause, a failover, a saturated disk) looks from the
//! server. Connections and bytes are real; nothing is answered for the
//! database.

use std::net::{Ipv4Addr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct StallProxy {
    pub address: SocketAddr,
    paused: watch::Sender<bool>,
}

impl StallProxy {
    /// Listens on a free local port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("binding a proxy port");
        let address = listener.local_addr().expect("proxy address");
        let (paused, watching) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(forward(client_read, server_write, watching.clone()));
                tokio::spawn(forward(server_read, client_write, watching.clone()));
            }
        });
        Self { address, paused }
    }

    /// A MongoDB connection string that goes through the proxy.
    pub fn mongodb_uri(&self) -> String {
        format!("mongodb://{}/?directConnection=true", self.address)
    }

    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    pub fn resume(&self) {
        self.paused.send_replace(false);
    }
}

/// Copies `from` to `to`, holding every chunk while the proxy is paused.
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut paused: watch::Receiver<bool>,
) {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if paused.wait_for(|paused| !paused).await.is_err() {
            return;
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
