//! The servers Paypulse's fan-out is measured against: bare tokio servers
//! that forward a broadcast channel of frames serialized once (a naive one,
//! a tuned one that is the limit of this machine, and, when named, one that
//! writes frames built once with one vectored write per burst), and the
//! seed's stack, a NestJS gateway on `@nestjs/platform-ws` run by Node.

use std::path::Path;
use std::process::Stdio;

use futures::{SinkExt, StreamExt};
use paypulse_server::live::socket::write_frames;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Most queued frames the tuned server writes before one flush: Paypulse's
/// `MAX_BURST`.
const MAX_BURST: usize = 256;

/// How a bare server writes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Bare {
    /// One `send` (write and flush) per frame, Nagle's algorithm left on:
    /// what a first version looks like.
    Naive,
    /// `TCP_NODELAY`, and every frame already queued fed before one flush,
    /// as Paypulse's watchers write: the most this machine does.
    Tuned,
    /// As `Tuned`, but each event's whole WebSocket frame is built once at
    /// publishing and a client's burst goes to its socket in one vectored
    /// write, with no copy into a per-connection buffer (which tungstenite
    /// keeps for the connection's life), as Paypulse's watchers write: only
    /// when named (`bare_preframed`).
    Preframed,
}

impl Bare {
    pub fn name(self) -> &'static str {
        match self {
            Bare::Naive => "bare_naive",
            Bare::Tuned => "bare_tuned",
            Bare::Preframed => "bare_preframed",
        }
    }
}

/// One event as the bare servers forward it: its text, and for
/// [`Bare::Preframed`] the whole frame around it, built once.
#[derive(Clone)]
pub struct Frame {
    text: Utf8Bytes,
    framed: Bytes,
}

impl Frame {
    pub fn new(kind: Bare, text: String) -> Self {
        let framed = match kind {
            Bare::Preframed => paypulse_server::live::socket::text_frame(&text),
            Bare::Naive | Bare::Tuned => Bytes::new(),
        };
        Self {
            text: Utf8Bytes::from(text),
            framed,
        }
    }
}

/// Serves `listener`: every connection gets `{"type":"hello"}`, then every
/// frame sent on `sender` from then on.
pub async fn bare_server(kind: Bare, listener: TcpListener, sender: broadcast::Sender<Frame>) {
    while let Ok((stream, _)) = listener.accept().await {
        let receiver = sender.subscribe();
        tokio::spawn(async move {
            if kind != Bare::Naive {
                stream.set_nodelay(true).ok();
            }
            let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            if socket.send(Message::text("{\"type\":\"hello\"}")).await.is_err() {
                return;
            }
            match kind {
                Bare::Naive => naive(socket, receiver).await,
                Bare::Tuned => tuned(socket, receiver).await,
                Bare::Preframed => preframed(socket, receiver).await,
            }
        });
    }
}

async fn naive(mut socket: WebSocketStream<TcpStream>, mut receiver: broadcast::Receiver<Frame>) {
    loop {
        match receiver.recv().await {
            Ok(frame) => {
                if socket.send(Message::Text(frame.text)).await.is_err() {
                    return;
                }
            }
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}

async fn tuned(mut socket: WebSocketStream<TcpStream>, mut receiver: broadcast::Receiver<Frame>) {
    loop {
        let first = match receiver.recv().await {
            Ok(frame) => frame.text,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        if socket.feed(Message::Text(first)).await.is_err() {
            return;
        }
        for _ in 1..MAX_BURST {
            match receiver.try_recv() {
                Ok(frame) => {
                    if socket.feed(Message::Text(frame.text)).await.is_err() {
                        return;
                    }
                }
                Err(TryRecvError::Lagged(_)) => {}
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        if socket.flush().await.is_err() {
            return;
        }
    }
}

async fn preframed(mut socket: WebSocketStream<TcpStream>, mut receiver: broadcast::Receiver<Frame>) {
    // The hello went through tungstenite and was flushed, and this server
    // reads nothing: from here on frames go straight to the TCP stream.
    let stream = socket.get_mut();
    let mut burst: Vec<Bytes> = Vec::with_capacity(MAX_BURST);
    loop {
        match receiver.recv().await {
            Ok(frame) => burst.push(frame.framed),
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        }
        while burst.len() < MAX_BURST {
            match receiver.try_recv() {
                Ok(frame) => burst.push(frame.framed),
                Err(TryRecvError::Lagged(_)) => {}
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        if write_frames(stream, &burst, &mut Bytes::new()).await.is_err() {
            return;
        }
        burst.clear();
    }
}

/// The NestJS gateway (server/benches/fanout/nest/gateway.mjs) in a Node
/// process of its own, and the benchmark's publishing connection to it.
pub struct NestGateway {
    pub address: std::net::SocketAddr,
    publisher: tokio::sync::Mutex<futures::stream::SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>>,
    /// Killed when the benchmark drops it.
    _node: tokio::process::Child,
}

impl NestGateway {
    /// Starts `node <script>` on a free port (it prints `listening <port>`)
    /// and connects the publisher.
    pub async fn start(script: &Path) -> anyhow::Result<Self> {
        let mut node = tokio::process::Command::new("node")
            .arg(script)
            .env("PORT", "0")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| anyhow::anyhow!("starting node {}: {error}", script.display()))?;
        let mut lines = BufReader::new(node.stdout.take().expect("piped")).lines();
        let port: u16 = loop {
            let line = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
                .await
                .map_err(|_| anyhow::anyhow!("the NestJS gateway did not start within 60 s"))??
                .ok_or_else(|| anyhow::anyhow!("the NestJS gateway exited before it listened"))?;
            if let Some(port) = line.strip_prefix("listening ") {
                break port.trim().parse()?;
            }
            eprintln!("nest: {line}");
        };
        // Whatever Nest logs later goes to the benchmark's log, and a full
        // pipe never blocks Node.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("nest: {line}");
            }
        });
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        // Nagle's algorithm off: a batch leaves at once, as Paypulse's
        // Redis connection sends its script.
        let (socket, _) =
            tokio_tungstenite::connect_async_with_config(format!("ws://{address}/?publisher=1"), None, true).await?;
        let (publisher, mut incoming) = socket.split();
        // The gateway sends the publisher nothing, but pings would need
        // reading; dropping the stream half would not close the socket.
        tokio::spawn(async move { while incoming.next().await.is_some() {} });
        Ok(Self {
            address,
            publisher: tokio::sync::Mutex::new(publisher),
            _node: node,
        })
    }

    /// Hands one batch to the gateway: one Nest message
    /// (`{"event":"payments","data":[…]}`), whose handler serializes each
    /// event once and sends it to every watcher.
    pub async fn publish(&self, events: &[serde_json::Value]) -> anyhow::Result<()> {
        let message = serde_json::json!({ "event": "payments", "data": events });
        self.publisher
            .lock()
            .await
            .send(Message::text(message.to_string()))
            .await?;
        Ok(())
    }
}
