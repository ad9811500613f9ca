//! A native plugin's handlers as the hub calls them, and their results.

use super::*;

/// A plugin's handler, as the hub calls it: the event crosses as JSON text, written only if
/// the handler asks for it.
pub(crate) struct NativeHandler(pub(crate) EventHandlerBox);

/// The [`EventForms`] entry of native handlers: the event as JSON text, written when the
/// first native handler of a dispatch asks for it and shared by the others until one
/// changes `data`.
#[derive(Default)]
pub(crate) struct EventText(OnceCell<Result<String, String>>);

/// What a native handler is called with: the event, and where its text is (or will be) kept.
pub(crate) struct EventView<'a> {
    event: &'a Event,
    text: &'a EventText,
}

impl DispatchedEvent for EventView<'_> {
    fn json(&self) -> RStr<'_> {
        match self.text.0.get_or_init(|| event_text(self.event)) {
            Ok(text) => text.as_str().into(),
            // The plugin fails to parse this; `run` reports the real error instead.
            Err(_) => RStr::from(""),
        }
    }
}

impl NativeHandler {
    /// Calls the plugin with a view of the event whose text is shared with the other native
    /// handlers of the dispatch, and applies its outcome to the event.
    fn run(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError> {
        let (event, text) = call.form(|_| EventText::default());
        let view = EventView { event, text };
        let outcome = self
            .0
            .handle(DispatchedEvent_TO::from_ptr(&view, TD_Opaque));
        if let Some(Err(err)) = text.0.get() {
            return Err(HandlerError(err.clone()));
        }
        let outcome = outcome
            .into_result()
            .map_err(|err| HandlerError(err.into_string()))?;
        if outcome.stop {
            call.stop();
        }
        if let Some(data) = outcome.data.into_option() {
            call.event_mut().data = serde_json::from_str(&data)
                .map_err(|e| HandlerError(format!("the handler's event data is not JSON: {e}")))?;
        }
        // Checked here, converted only if a reader wants a JSON value (`connect_core::reply`).
        NativeValue::checked(outcome.result)
            .map(Reply::form)
            .map_err(|e| HandlerError(format!("the handler's result is not a JSON value: {e}")))
    }
}

/// The result of a handler in an isolated plugin's process (`--isolate-native`): JSON text,
/// as the process sent it, checked to be well formed.
#[derive(Debug)]
pub struct NativeText(RString);

impl NativeText {
    /// `text` if it is one JSON value; why not otherwise.
    pub fn checked(text: impl Into<RString>) -> Result<NativeText, serde_json::Error> {
        let text = text.into();
        serde_json::from_str::<IgnoredAny>(&text)?;
        Ok(NativeText(text))
    }
}

impl ResultForm for NativeText {
    fn is_null(&self) -> bool {
        self.0.trim() == "null"
    }

    fn to_json(&self) -> Value {
        serde_json::from_str(&self.0).expect("NativeText holds checked JSON")
    }

    fn json_text(&self) -> Option<&str> {
        Some(&self.0)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

pub(crate) fn event_text(event: &Event) -> Result<String, String> {
    serde_json::to_string(event).map_err(|e| e.to_string())
}

impl Handler for NativeHandler {
    fn handle(&self, call: &mut HandlerCall<'_>) -> Result<Reply, HandlerError> {
        self.run(call)
    }
}

#[cfg(test)]
mod tests {
    use abi_stable::std_types::RNone;
    use connect_core::EventForms;
    use connect_plugin_abi::{
        DispatchedEventRef, EventHandler, EventHandler_TO, FlatValue, HandlerOutcome, ValueNode,
    };

    use super::*;

    /// A plugin's handler that answers the length of the event text, reading it or not.
    struct Peek {
        reads: bool,
    }

    impl EventHandler for Peek {
        fn handle(&self, event: DispatchedEventRef<'_>) -> RResult<HandlerOutcome, RString> {
            let len = if self.reads { event.json().len() } else { 0 };
            ROk(HandlerOutcome {
                result: FlatValue {
                    nodes: vec![ValueNode::Int(len as i64)].into(),
                },
                data: RNone,
                stop: false,
            })
        }
    }

    #[test]
    fn the_event_is_written_only_when_a_handler_asks_and_then_once() {
        let handler = |reads| NativeHandler(EventHandler_TO::from_value(Peek { reads }, TD_Opaque));
        let (ignorer, reader) = (handler(false), handler(true));
        let mut event = Event::new("t");
        let mut forms = EventForms::default();
        let written = |event: &mut Event, forms: &mut EventForms| {
            let mut call = HandlerCall::new(event, forms);
            let (_, text) = call.form(|_| EventText::default());
            text.0.get().map(|text| text.as_ref().unwrap().as_ptr())
        };
        let call = |handler: &NativeHandler, event: &mut Event, forms: &mut EventForms| {
            handler.handle(&mut HandlerCall::new(event, forms)).unwrap()
        };

        call(&ignorer, &mut event, &mut forms);
        assert_eq!(written(&mut event, &mut forms), None);

        let len = serde_json::to_string(&event).unwrap().len();
        let first = call(&reader, &mut event, &mut forms);
        assert_eq!(first, serde_json::json!(len));
        let text = written(&mut event, &mut forms);
        assert!(text.is_some());
        call(&reader, &mut event, &mut forms);
        assert_eq!(
            written(&mut event, &mut forms),
            text,
            "the text is shared, not rewritten"
        );
    }
}
