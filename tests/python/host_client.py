"""The host as an ftrack client, seen from the real Python client: steps run by
tests/host_client.rs while `ftrack-connect run` is signed in to the same server.

    host_client.py setup                   -> prints {"project_id", "task_id"}
    host_client.py actions TASK_ID         discover with a selection, then launch
    host_client.py own                     what the host answers itself
    host_client.py api TASK_ID PROJECT_ID  hooks (Rhai, native) query and create through the API

Each step prints `ok: ...` lines and exits 0, or fails with what it expected and saw."""

import json
import sys
import time

import ftrack_api
import ftrack_api.event.base

from hub_kit import check, close_sessions, session

REPLY_TIMEOUT = 30


def ask(s, topic, data, until=lambda replies: len(replies) >= 1, timeout=REPLY_TIMEOUT):
    """Publishes through the server and waits until the replies so far (their data) satisfy
    `until`; returns them."""
    replies = []
    event = ftrack_api.event.base.Event(topic=topic, data=data)
    s.event_hub.publish(event, on_reply=lambda reply: replies.append(reply["data"]))
    deadline = time.time() + timeout
    while not until(replies) and time.time() < deadline:
        s.event_hub.wait(0.05)
    check(until(replies), "the replies to %s" % topic, replies)
    return replies


def setup():
    s = ftrack_api.Session(auto_connect_event_hub=False, schema_cache_path=False, plugin_paths=[])
    schema = s.query("ProjectSchema").first()
    comp = s.query("Type").first()
    project = s.create("Project", {"name": "host_client", "full_name": "Host client",
                                   "project_schema": schema})
    shot = s.create("Shot", {"name": "sh010", "parent": project})
    task = s.create("Task", {"name": "lighting", "parent": shot, "type": comp})
    s.commit()
    print(json.dumps({"project_id": project["id"], "task_id": task["id"]}))


def actions(task_id):
    s = session("artist")
    selection = [{"entityId": task_id, "entityType": "task"}]
    # The host answers discover once per connection: its hooks' items in one reply each.
    def items(replies):
        return [i for r in replies if isinstance(r, dict) for i in r.get("items", [])]

    def offered(replies):
        return [i for i in items(replies) if i.get("actionIdentifier") == "studio-hello"]

    replies = ask(s, "ftrack.action.discover", {"selection": selection}, until=offered)
    hello = offered(replies)
    check(hello and hello[0]["label"] == "Hello " + task_id,
          "the host's Rhai hook offers its action for the selected task", items(replies))
    launched = ask(s, "ftrack.action.launch",
                   {"actionIdentifier": "studio-hello", "selection": selection})
    check(launched[0] == {"success": True, "message": "hello from the host to " + task_id},
          "the launch came back from the host's hook", launched)
    close_sessions()


def own():
    """What the host answers itself, asked from afar: Connect's discover (for its own user) and
    the plugins' debug information."""
    s = session("about")
    found = ask(s, "ftrack.connect.discover", {})
    check(found[0] is True, "the host answers ftrack.connect.discover for its user", found)
    about = ask(s, "ftrack.connect.plugin.debug-information", {})
    names = [entry.get("name") for entry in about[0]]
    check(names[0] == "ftrack-connect" and "studio-tools" in names,
          "the host's debug information lists itself and its plugins", about)
    close_sessions()


def api(task_id, project_id):
    s = session("pipeline")
    named = ask(s, "studio.task.name", {"task_id": task_id})
    check(named[0] == "lighting", "a Rhai hook's session.query read the Task Python made", named)

    made = ask(s, "studio.folder.make", {"project_id": project_id, "name": "from_the_hook"})
    check(made[0].get("committed") is True, "a Rhai hook created and committed a Folder", made)
    reader = ftrack_api.Session(auto_connect_event_hub=False, schema_cache_path=False,
                                plugin_paths=[])
    folder = reader.query('Folder where name is "from_the_hook"').first()
    check(folder is not None and folder["parent"]["id"] == project_id,
          "Python sees the hook's Folder under its project", folder)

    native = ask(s, "fixture.api.query",
                 {"expression": 'select name from Task where id is "%s"' % task_id})
    names = [entity.get("name") for entity in native[0].get("result", [])]
    check(names == ["lighting"], "a native hook's query read the Task too", native)
    close_sessions()


if __name__ == "__main__":
    step, args = sys.argv[1], sys.argv[2:]
    {"setup": setup, "actions": actions, "own": own, "api": api}[step](*args)
