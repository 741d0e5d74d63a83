//! One function per role: what each wires on top of the sink.

use actix::prelude::*;

use super::{App, DayInputs, Prepared, Sink, StartError};
use crate::actors::children::{Restarts, ShutdownSocket, Supervise};
use crate::actors::consumer::Consumer;
use crate::actors::coordinator::Coordinator;
use crate::actors::coordinator::handlers::Attach;
use crate::actors::journal::Journal;
use crate::actors::journal::handlers::PlanSizes;
use crate::actors::persister::Persister;
use crate::actors::publisher::Publisher;
use crate::actors::publisher::handlers::{PublishInstruments, SetSymbols};
use crate::actors::sink::{SaveInstruments, SinkError};
use crate::actors::socket::Socket;
use crate::plan::SubscriptionPlan;
use crate::settings::{Role, Settings};

/// The store role: the stream consumer (own arbiter) into the persister; no sockets.
pub(super) fn store(settings: &Settings, prepared: Prepared, persister: Addr<Persister>) -> App {
    let Prepared {
        date,
        board,
        options,
        mut wiring,
        ..
    } = prepared;
    let (redis, status) = (
        settings.redis.clone(),
        board.handle(crate::status::Actor::Consumer),
    );
    let snapshots = persister.clone().recipient();
    let rows = persister.recipient();
    #[cfg(feature = "test-hooks")]
    let stop_before_ack = options.stop_before_ack;
    let arbiter = Arbiter::new();
    let consumer_restarts = Restarts::new(&status);
    let restarts = consumer_restarts.clone();
    let consumer = Supervisor::start_in_arbiter(&arbiter.handle(), move |_| {
        let mut c = Consumer::new(redis, rows, snapshots, status);
        c.restarts = restarts;
        #[cfg(feature = "test-hooks")]
        let c = if stop_before_ack {
            c.stopping_before_the_first_ack()
        } else {
            c
        };
        c
    });
    wiring.restarts.push(consumer_restarts);
    let coordinator = wiring.coordinator(settings, &board, None, Some(consumer.clone()));
    wiring.consumer = Some(consumer);
    wiring.arbiters.push(arbiter);
    wiring.app(
        settings,
        options.role,
        SubscriptionPlan::empty(date),
        board,
        coordinator,
        None,
    )
}

/// The capture roles (`all`, `ingest`), after crash recovery: the publisher, the journal, the
/// instrument snapshot, the coordinator, then one supervised socket per planned connection.
pub(super) async fn capture(
    settings: &Settings,
    prepared: Prepared,
    inputs: DayInputs,
) -> Result<App, StartError> {
    let Prepared {
        date,
        board,
        options,
        floors,
        mut wiring,
        ..
    } = prepared;
    let DayInputs { plan, auth } = inputs;
    let Some(auth) = auth else {
        return Err(StartError::Internal(format!(
            "the {} role needs the service's auth actor",
            options.role.as_str()
        )));
    };
    if plan.date != date {
        return Err(StartError::Internal(format!(
            "a plan for {} handed to the pipeline of {date}",
            plan.date
        )));
    }
    let data_dir = settings.paths.data_dir.clone();

    // The live view, on its own thread: JSON and Redis I/O never share the sockets' loop. The
    // ingest role publishes whatever `redis.enabled` says: the stream is its only output.
    let publisher = (settings.redis.enabled || options.role == Role::Ingest).then(|| {
        let (redis, status) = (
            settings.redis.clone(),
            board.handle(crate::status::Actor::Publisher),
        );
        let arbiter = Arbiter::new();
        let publisher = Supervisor::start_in_arbiter(&arbiter.handle(), move |_| {
            Publisher::new(redis, date, status)
        });
        wiring.arbiters.push(arbiter);
        publisher
    });

    let sink: &Sink = &wiring.sink;
    let journal_status = board.handle(crate::status::Actor::Journal);
    let journal_settings = settings.journal.clone();
    let (jdir, catchup, journal_gaps) = (data_dir.clone(), sink.catchup.clone(), sink.gaps.clone());
    let to_publisher = publisher.clone().map(Addr::recipient);
    let journal_arbiter = Arbiter::new();
    let journal = Supervisor::start_in_arbiter(&journal_arbiter.handle(), move |_| {
        Journal::new(
            jdir,
            date,
            &journal_settings,
            floors,
            catchup,
            to_publisher,
            journal_gaps,
            journal_status,
        )
    });

    tracing::info!(
        role = options.role.as_str(),
        instruments = plan.instruments.len(),
        sockets = plan.sockets.len(),
        unknown = plan.unknown.len(),
        "subscription plan ready"
    );
    let rows = plan.instrument_rows();
    if let Some(publisher) = &publisher {
        publisher.do_send(SetSymbols(
            plan.instruments
                .iter()
                .map(|p| (p.row.instrument_token, p.row.tradingsymbol.clone()))
                .collect(),
        ));
        // The stores learn the symbols through Redis (their databases have no other source).
        publisher.do_send(PublishInstruments(rows.clone()));
    }
    if let Err(e) = sink
        .instruments
        .send(SaveInstruments(rows))
        .await
        .map_err(SinkError::from)
        .and_then(|r| r)
    {
        tracing::error!(error = %e, "cannot save the instrument snapshot");
    }

    let coordinator = wiring.coordinator(settings, &board, Some(journal.clone()), None);
    journal.do_send(Supervise(coordinator.clone().recipient()));
    if let Some(publisher) = &publisher {
        publisher.do_send(Supervise(coordinator.clone().recipient()));
    }
    wiring.publisher = publisher.clone();
    journal.do_send(PlanSizes(
        plan.sockets
            .iter()
            .map(|s| (s.number as i16, s.tokens.len() as i32))
            .collect(),
    ));
    let sockets = start_sockets(
        settings,
        &plan,
        &auth,
        &journal,
        &wiring.sink,
        &coordinator,
        &board,
    );
    coordinator.do_send(Attach { sockets });
    wiring.arbiters.push(journal_arbiter);
    Ok(wiring.app(
        settings,
        options.role,
        plan,
        board,
        coordinator,
        Some(journal),
    ))
}

/// One supervised socket per planned connection. Every socket's hole since an earlier run of
/// the day is a gap: from that run's last frame to this run's first, a stop when it ended
/// cleanly, else a crash.
fn start_sockets(
    settings: &Settings,
    plan: &SubscriptionPlan,
    auth: &Addr<crate::actors::auth::Auth>,
    journal: &Addr<Journal>,
    sink: &Sink,
    coordinator: &Addr<Coordinator>,
    board: &std::sync::Arc<crate::status::StatusBoard>,
) -> Vec<Recipient<ShutdownSocket>> {
    let date = plan.date;
    let journal_dir = crate::capture::journal::journal_dir(&settings.paths.data_dir, date);
    let cause = if crate::capture::journal::take_stopped_mark(&journal_dir) {
        "stopped"
    } else {
        "crashed"
    };
    // A last frame outside the day (a damaged file's stray record) is no start for a gap.
    let day_start_us = date
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(crate::calendar::IST).single())
        .map_or(0, |t| t.timestamp_micros()) as u64;
    let now_us = chrono::Utc::now().timestamp_micros().max(0) as u64;
    plan.sockets
        .iter()
        .map(|socket_plan| {
            let resume = crate::capture::journal::previous_frame(
                &journal_dir,
                socket_plan.number as i16,
                day_start_us..=now_us,
            );
            let socket = Socket::new(
                socket_plan.clone(),
                settings.sockets.clone(),
                settings.kite.ws_root.clone(),
                date,
                auth.clone(),
                journal.clone().recipient(),
                sink.gaps.clone(),
                coordinator.clone().recipient(),
                board.handle(crate::status::Actor::Socket(socket_plan.number)),
            )
            .resuming(resume.map(|at| (at as i64, cause)));
            Supervisor::start(move |_| socket).recipient()
        })
        .collect()
}
