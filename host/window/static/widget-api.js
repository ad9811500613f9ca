/**
 * The API of a plugin tab: a plugin folder's `resource/widget/<name>/index.html` loads it with
 *
 *     <script src="/static/widget-api.js"></script>
 *
 * and gets `connect`:
 *
 *  - `connect.publish({topic, data, target})`: publishes the event in the host's hub, with
 *    the plugin's name as `source.id`; resolves to the array of replies (what the handlers
 *    returned), in ftrack's order.
 *  - `connect.subscribe(expression, callback)`: calls `callback(event)` for each event
 *    matching the subscription expression (ftrack's syntax, e.g. `topic=studio.news`);
 *    resolves, once subscribed, to a function that unsubscribes. A tab hears events; it
 *    does not answer them.
 *  - `connect.query(expression)`: runs an ftrack query on the signed-in server
 *    (`select name from Task where ...`); resolves to the entities.
 *
 * Each rejects with an Error saying why. The tab runs sandboxed (its own opaque origin, no
 * cookie, no network): everything goes to the window over `postMessage`, and the window
 * does it as this tab's plugin, whatever the message says.
 */
(function () {
  'use strict';
  // The window put a secret in this page's address; every call carries it, so that a page
  // this frame is sent to later (a link followed) cannot speak for the plugin.
  const secret = location.hash.slice(1);
  let nextId = 1;
  const pending = new Map(); // call id -> {resolve, reject}
  const listeners = new Map(); // subscription id -> callback

  window.addEventListener('message', (message) => {
    if (message.source !== window.parent) return;
    const body = message.data;
    if (!body || body.connect !== 1) return;
    if (body.type === 'reply') {
      const call = pending.get(body.id);
      if (!call) return;
      pending.delete(body.id);
      if (body.ok) call.resolve(body.result);
      else call.reject(new Error(body.error || 'failed'));
    } else if (body.type === 'event') {
      const callback = listeners.get(body.subscription);
      if (callback) callback(body.event);
    }
  });

  function call(op, args) {
    return new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      // The window's origin is the only one that frames a tab; '*' because a sandboxed
      // frame cannot name it (its own origin is opaque).
      window.parent.postMessage(Object.assign({ connect: 1, type: 'call', id, op, secret }, args), '*');
    });
  }

  window.connect = Object.freeze({
    publish(event) {
      return call('publish', { event });
    },
    query(expression) {
      return call('query', { expression });
    },
    async subscribe(expression, callback) {
      if (typeof callback !== 'function') throw new TypeError('subscribe needs a callback');
      const { subscription } = await call('subscribe', { expression });
      listeners.set(subscription, callback);
      return () => {
        listeners.delete(subscription);
        return call('unsubscribe', { subscription });
      };
    },
  });
})();
