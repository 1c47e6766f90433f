//! The address bar as a signal: the [`Route`] the page shows, changed by
//! [`Navigation::go`] (a new history entry) and the browser's back and
//! forward buttons (`popstate`).

use sycamore::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

use crate::route::Route;

/// A copyable handle on the route, provided as context.
#[derive(Clone, Copy)]
pub struct Navigation {
    pub route: Signal<Route>,
}

fn current_search() -> String {
    web_sys::window()
        .and_then(|window| window.location().search().ok())
        .unwrap_or_default()
}

impl Navigation {
    /// Reads the address bar and follows back and forward until the
    /// current reactive scope ends.
    pub fn start() -> Self {
        let route = create_signal(Route::from_search(&current_search()));
        let on_pop = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            route.set(Route::from_search(&current_search()));
        });
        if let Some(window) = web_sys::window() {
            window
                .add_event_listener_with_callback("popstate", on_pop.as_ref().unchecked_ref())
                .ok();
        }
        on_cleanup(move || {
            if let Some(window) = web_sys::window() {
                window
                    .remove_event_listener_with_callback("popstate", on_pop.as_ref().unchecked_ref())
                    .ok();
            }
            drop(on_pop);
        });
        Self { route }
    }

    /// Shows `route` as a new history entry (back returns here).
    pub fn go(self, route: Route) {
        if route == self.route.get_clone_untracked() {
            return;
        }
        write(&route);
        self.route.set(route);
    }
}

fn write(route: &Route) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Ok(history) = window.history() else {
        return;
    };
    let pathname = window.location().pathname().unwrap_or_else(|_| "/".into());
    let url = format!("{pathname}{}", route.to_search());
    history
        .push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url))
        .ok();
}
