//! The event as a handler sees it: Rhai values made once per dispatch, shared until changed.

use super::*;

/// An event as Rhai values: made once per dispatch and shared, read-only, by the Rhai
/// handlers of that dispatch until one of them changes the event.
pub(crate) struct ScriptSnapshot {
    pub(crate) id: ImmutableString,
    pub(crate) topic: ImmutableString,
    pub(crate) target: ImmutableString,
    pub(crate) in_reply_to_event: Dynamic,
    pub(crate) sent: Dynamic,
    pub(crate) data: Dynamic,
    pub(crate) source: Dynamic,
}

impl ScriptSnapshot {
    pub(crate) fn new(event: &Event) -> Self {
        ScriptSnapshot {
            id: event.id.as_str().into(),
            topic: event.topic.as_str().into(),
            target: event.target.as_str().into(),
            in_reply_to_event: event
                .in_reply_to_event
                .as_deref()
                .map_or(Dynamic::UNIT, |id| Dynamic::from(id.to_string())),
            sent: event.sent.as_ref().map_or(Dynamic::UNIT, to_dynamic),
            data: to_dynamic(&event.data),
            source: Dynamic::from_map(
                event
                    .source
                    .iter()
                    .map(|(key, item)| (key.as_str().into(), to_dynamic(item)))
                    .collect(),
            ),
        }
    }
}

/// The [`EventForms`] entry of Rhai handlers: the one event object every Rhai handler of a
/// dispatch is given, as in ftrack's hub, where the handlers of a dispatch share one event.
///
/// Why one: made per handler, the object cost three allocations a call (its state, and Rhai's
/// box of a box for a custom type), a tenth of a small handler. `value` is the object as a
/// Rhai shared value, so handing it to a handler is a reference count, not a copy.
pub(crate) struct DispatchEvent {
    pub(crate) event: ScriptEvent,
    pub(crate) value: Dynamic,
}

impl DispatchEvent {
    pub(crate) fn new(event: &Event) -> Self {
        let event = ScriptEvent::new(Arc::new(ScriptSnapshot::new(event)), event.is_stopped());
        let value = Dynamic::from(event.clone()).into_shared();
        DispatchEvent { event, value }
    }
}

/// The event a handler sees. Clones share state, so changes a script makes to `event.data`
/// reach the hub (Rhai passes arguments by value). It reads from the shared snapshot until
/// the script assigns `data` or `source`, which then belong to this handler's call.
#[derive(Clone)]
pub(crate) struct ScriptEvent(pub(crate) Arc<Mutex<EventState>>);

pub(crate) struct EventState {
    pub(crate) snapshot: Arc<ScriptSnapshot>,
    /// What the script assigned to `event.data`, if it did.
    pub(crate) data: Option<Dynamic>,
    /// What the script assigned to `event.source`, if it did.
    pub(crate) source: Option<Dynamic>,
    pub(crate) stopped: bool,
}

impl EventState {
    pub(crate) fn data(&self) -> &Dynamic {
        self.data.as_ref().unwrap_or(&self.snapshot.data)
    }

    pub(crate) fn source(&self) -> &Dynamic {
        self.source.as_ref().unwrap_or(&self.snapshot.source)
    }
}

impl ScriptEvent {
    pub(crate) fn new(snapshot: Arc<ScriptSnapshot>, stopped: bool) -> Self {
        ScriptEvent(Arc::new(Mutex::new(EventState {
            snapshot,
            data: None,
            source: None,
            stopped,
        })))
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, EventState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Copies what the script changed back into the event of `call` (through
    /// [`HandlerCall::event_mut`] only when it assigned `data` or `source`, so that a handler
    /// that only reads or stops leaves the dispatch's shared forms valid). `Err` says what JSON
    /// cannot hold; the event's data and source are then left as they were. Either way what
    /// the script assigned is taken out of the object, so that the next handler of the dispatch
    /// reads the event as the hub holds it.
    pub(crate) fn write_back(&self, call: &mut HandlerCall<'_>) -> Result<(), String> {
        let mut state = self.lock();
        if state.stopped {
            call.stop();
        }
        let (data, source) = (state.data.take(), state.source.take());
        drop(state);
        let data = data.as_ref().map(data_to_json).transpose()?;
        let source = match source.as_ref().map(to_json).transpose() {
            Ok(None) => None,
            Ok(Some(Value::Object(source))) => Some(source),
            Ok(Some(_)) => return Err("event.source must be a map".into()),
            Err(e) => {
                return Err(format!(
                    "event.source is not JSON: {}",
                    e.describe("event.source")
                ))
            }
        };
        if let Some(data) = data {
            call.event_mut().data = data;
        }
        if let Some(source) = source {
            call.event_mut().source = source.into();
        }
        Ok(())
    }

    /// A copy of the event as it is now, for publishing it again (not stopped).
    pub(crate) fn to_event(&self) -> Result<Event, String> {
        let state = self.lock();
        let snapshot = &state.snapshot;
        let mut event = Event::new(snapshot.topic.as_str());
        event.id = snapshot.id.to_string();
        event.target = snapshot.target.to_string();
        event.data = data_to_json(state.data())?;
        if let Ok(Value::Object(source)) = to_json(state.source()) {
            event.source = source.into();
        }
        event.in_reply_to_event = snapshot.in_reply_to_event.clone().into_string().ok();
        event.sent = to_json(&snapshot.sent).ok().filter(|v| !v.is_null());
        Ok(event)
    }

    pub(crate) fn get(&self, field: &str) -> RhaiResult<Dynamic> {
        let state = self.lock();
        Ok(match field {
            "id" => state.snapshot.id.clone().into(),
            "topic" => state.snapshot.topic.clone().into(),
            "target" => state.snapshot.target.clone().into(),
            "in_reply_to_event" => state.snapshot.in_reply_to_event.clone(),
            "sent" => state.snapshot.sent.clone(),
            "data" => state.data().clone(),
            "source" => state.source().clone(),
            other => return runtime_error(format!("an event has no field '{other}'")),
        })
    }

    pub(crate) fn set(&self, field: &str, value: Dynamic) -> RhaiResult<()> {
        let mut state = self.lock();
        match field {
            "data" => state.data = Some(value),
            "source" => state.source = Some(value),
            other => return runtime_error(format!("event field '{other}' cannot be changed")),
        }
        Ok(())
    }
}

/// `event.data` as JSON, or what JSON cannot hold in it.
fn data_to_json(data: &Dynamic) -> Result<Value, String> {
    to_json(data).map_err(|e| format!("event.data is not JSON: {}", e.describe("event.data")))
}

impl fmt::Display for ScriptEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        write!(
            f,
            "<Event {} {}: {}>",
            state.snapshot.topic,
            state.snapshot.id,
            state.data()
        )
    }
}
