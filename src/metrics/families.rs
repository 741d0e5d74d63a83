//! One scrape's registry: gauges, counters and histograms registered with their values, and
//! left out when the board has no value for them.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// A sample's labels, in order.
pub(super) type Labels = Vec<(&'static str, String)>;

type Owned = Vec<(String, String)>;

/// A registry filled for one scrape.
#[derive(Default)]
pub(super) struct Scrape {
    registry: Registry,
}

/// The family's name as the registry wants it: a counter's `_total` is added when encoded.
fn counter_name(name: &str) -> &str {
    name.strip_suffix("_total").unwrap_or(name)
}

/// The help as the registry wants it: it adds the final full stop.
fn help(text: &str) -> &str {
    text.strip_suffix('.').unwrap_or(text)
}

fn owned(labels: Labels) -> Owned {
    labels
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

impl Scrape {
    /// A gauge without labels, when there is a value.
    pub(super) fn gauge(&mut self, name: &str, text: &str, value: Option<f64>) {
        if let Some(v) = value {
            let g = Gauge::<f64, AtomicU64>::default();
            g.set(v);
            self.registry.register(name, help(text), g);
        }
    }

    /// A counter without labels (`name` ends in `_total`), when there is a value.
    pub(super) fn counter(&mut self, name: &str, text: &str, value: Option<f64>) {
        if let Some(v) = value {
            let c = Counter::<f64, AtomicU64>::default();
            c.inc_by(v);
            self.registry.register(counter_name(name), help(text), c);
        }
    }

    /// A gauge family, one sample per label set; nothing when there is none.
    pub(super) fn gauges(
        &mut self,
        name: &str,
        text: &str,
        samples: impl IntoIterator<Item = (Labels, f64)>,
    ) {
        let family = Family::<Owned, Gauge<f64, AtomicU64>>::default();
        let mut any = false;
        for (labels, v) in samples {
            family.get_or_create(&owned(labels)).set(v);
            any = true;
        }
        if any {
            self.registry.register(name, help(text), family);
        }
    }

    /// A counter family (`name` ends in `_total`), one sample per label set; nothing when there
    /// is none.
    pub(super) fn counters(
        &mut self,
        name: &str,
        text: &str,
        samples: impl IntoIterator<Item = (Labels, f64)>,
    ) {
        let family = Family::<Owned, Counter<f64, AtomicU64>>::default();
        let mut any = false;
        for (labels, v) in samples {
            family.get_or_create(&owned(labels)).inc_by(v);
            any = true;
        }
        if any {
            self.registry
                .register(counter_name(name), help(text), family);
        }
    }

    /// A histogram kept on the board (shared, not copied).
    pub(super) fn histogram(&mut self, name: &str, text: &str, h: &Histogram) {
        self.registry.register(name, help(text), h.clone());
    }

    /// The text, ending in `# EOF`.
    pub(super) fn finish(self) -> String {
        let mut text = String::with_capacity(8192);
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}
