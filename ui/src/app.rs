//! The application shell: signs in (link, saved credentials or the settings
//! screen), then shows the dashboard.

use std::cell::RefCell;
use std::rc::Rc;

use sycamore::prelude::*;

use crate::alerts::{self, ActiveAlerts, AlertsPage, Toasts};
use crate::api::ApiClient;
use crate::chart::TrendChart;
use crate::drilldown::{Breadcrumbs, PaymentDetail, PaymentList};
use crate::events::EventsFeed;
use crate::export::ExportProgress;
use crate::live::socket::{Dispatch, LiveService};
use crate::metrics::MetricsGrid;
use crate::navigation::Navigation;
use crate::platform::Platform;
use crate::queries::Queries;
use crate::route::{Page, Route};
use crate::session::{self, Credentials};
use crate::settings::Settings;
use crate::status::ConnectionStatus;
use crate::store::{Action, Dashboard};
use crate::time_range::TimeRangePicker;

/// Shared, copyable handle on who is signed in.
#[derive(Clone, Copy)]
pub struct SessionState {
    pub credentials: Signal<Option<Credentials>>,
    /// Whether the saved sign-in has been read: until then neither the
    /// settings screen nor the dashboard is shown.
    known: Signal<bool>,
    /// The settings screen is open over a sign-in that still holds (the
    /// desktop's Settings… menu item); cancelling returns to it.
    pub editing: Signal<bool>,
    platform: Platform,
}

impl SessionState {
    /// Remembers `credentials` (through the platform) and signs in.
    pub async fn sign_in(self, credentials: Credentials) -> Result<(), String> {
        self.platform.save_credentials(&credentials).await?;
        self.editing.set(false);
        self.credentials.set(Some(credentials));
        Ok(())
    }

    /// Forgets the sign-in, then shows the settings screen. Not from inside
    /// the caller: the button that asks is part of the view this replaces,
    /// and disposing a view from its own click handler panics.
    pub fn sign_out(self) {
        wasm_bindgen_futures::spawn_local(async move {
            self.platform.forget_credentials().await;
            self.credentials.set(None);
        });
    }
}

/// Clicks the first element `selector` finds, if any.
fn click(selector: &str) {
    use wasm_bindgen::JsCast;
    let element = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.query_selector(selector).ok().flatten())
        .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(element) = element {
        element.click();
    }
}

#[component]
pub fn App() -> View {
    let platform = Platform::detect();
    provide_context(platform);
    let state = SessionState {
        credentials: create_signal(None),
        known: create_signal(false),
        editing: create_signal(false),
        platform,
    };
    provide_context(state);
    // Alerts the user asked to see from outside the page (a clicked OS
    // notification), counted: the signed-in dashboard shows the alerts on
    // each.
    let opened = alerts::Opened {
        asks: create_signal(0),
        alert: create_signal(None),
    };
    platform.on_alert_opened(move |alert| {
        opened.alert.set(Some(alert));
        opened.asks.update(|count| *count += 1);
    });
    provide_context(opened);
    let written = create_signal(0.0);
    platform.on_export_progress(move |bytes| written.set(bytes));
    provide_context(ExportProgress(written));
    platform.on_menu(move |item| match item.as_str() {
        "settings" => state.editing.set(true),
        // The export of what is on screen, as its button would.
        "export" => click("[data-testid=export-csv]"),
        _ => {}
    });
    // A sign-in link wins over what was saved, and is saved in its place.
    let from_link = session::take_from_location();
    wasm_bindgen_futures::spawn_local(async move {
        let credentials = match from_link {
            Some(credentials) => {
                platform.save_credentials(&credentials).await.ok();
                Some(credentials)
            }
            None => platform.load_credentials().await,
        };
        state.credentials.set(credentials);
        state.known.set(true);
    });

    view! {
        header(class="topbar") {
            h1(class="brand") { "Paypulse" }
            // Read the tenant first: building views while a signal is borrowed
            // (inside `with`) would re-enter the reactive arena.
            (move || match state.credentials.with(|credentials| credentials.as_ref().map(|c| c.tenant.clone())) {
                Some(tenant) => view! {
                    span(class="tenant", data-testid="current-tenant") { (tenant) }
                    button(class="link", data-testid="sign-out", on:click=move |_| state.sign_out()) { "Sign out" }
                },
                None => view! {},
            })
        }
        main(class="content") {
            (move || match (state.known.get(), state.editing.get(), state.credentials.get_clone()) {
                (false, _, _) => view! {},
                (true, false, Some(credentials)) => view! { Live(credentials=credentials) },
                (true, _, _) => view! { Settings() },
            })
        }
    }
}

/// The signed-in dashboard: the route, the store, the query cache and the
/// live socket live as long as this view (signing out drops them and
/// closes the socket). The socket and the feed's rows outlive the page
/// shown, so going to a list and back loses nothing.
#[component(inline_props)]
fn Live(credentials: Credentials) -> View {
    let navigation = Navigation::start();
    provide_context(navigation);
    let opened = use_context::<alerts::Opened>().asks;
    let before = opened.get_untracked();
    create_effect(move || {
        if opened.get() != before {
            navigation.go(navigation.route.with_untracked(Route::alerts));
        }
    });
    let queries = Queries::new(ApiClient::new(credentials.clone()));
    provide_context(queries.clone());
    let dashboard = create_signal(Dashboard::default());
    let reduce: Dispatch = Rc::new(move |action| dashboard.update(|state| state.reduce(action)));
    let invalidate = {
        let queries = queries.clone();
        Rc::new(move || queries.invalidate())
    };
    let service = Rc::new(RefCell::new(Some(LiveService::start(
        credentials,
        queries.client.clone(),
        use_context::<Platform>(),
        reduce.clone(),
        invalidate,
    ))));
    on_cleanup(move || drop(service.borrow_mut().take()));
    // What the page's controls dispatch has no effects for the shell.
    let dispatch: Rc<dyn Fn(Action)> = Rc::new(move |action| drop(reduce(action)));
    let page = create_selector(move || {
        navigation.route.with(|route| match &route.page {
            Page::Dashboard => Shown::Dashboard,
            Page::Payments => Shown::Payments,
            Page::Payment { id } => Shown::Payment(id.clone()),
            Page::Alerts => Shown::Alerts,
        })
    });
    let toast_dispatch = dispatch.clone();

    view! {
        div(class="live-bar") {
            ActiveAlerts(dashboard=dashboard)
            ConnectionStatus(dashboard=dashboard)
        }
        Toasts(dashboard=dashboard, dispatch=toast_dispatch)
        Breadcrumbs()
        (move || match page.get_clone() {
            Shown::Payment(_) | Shown::Alerts => view! {},
            _ => view! { TimeRangePicker() },
        })
        (move || {
            let dispatch = dispatch.clone();
            match page.get_clone() {
                Shown::Dashboard => view! {
                    MetricsGrid()
                    TrendChart()
                    EventsFeed(dashboard=dashboard, dispatch=dispatch)
                },
                Shown::Payments => view! {
                    // The grid over the same range keeps the tenant's zone
                    // and the resolved range known on this page too.
                    PaymentList()
                },
                Shown::Payment(id) => view! { PaymentDetail(id=id) },
                Shown::Alerts => view! { AlertsPage(dashboard=dashboard) },
            }
        })
    }
}

/// Which page is on screen (a change of filters keeps the list mounted).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Shown {
    Dashboard,
    Payments,
    Payment(String),
    Alerts,
}
