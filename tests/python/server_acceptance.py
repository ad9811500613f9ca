"""The local ftrack server, driven by the real, unmodified ftrack_api client.

Run by the Rust tests (tests/server_api.rs) with the reference virtualenv's python
(scripts/python-ref.sh), against a running `ftrack-connect server`:

    FTRACK_SERVER=... FTRACK_API_USER=... FTRACK_API_KEY=... \
        python server_acceptance.py STEP [ARGS]

Steps:
    workflow CACHE_DIR      everything a pipeline does: sessions (the second one from the
                            schema cache), a project tree, assets and versions numbered by the
                            server, queries through paths, in, any, order by and paging,
                            updates, deletes, and a file through the ftrack.server location
    create-project NAME     creates a project and commits (then the caller kills the server)
    expect-project NAME     the project is there
    errors                  bad keys, bad JSON, unknown actions, bad queries, oversized bodies
    files                   uploads refused for a wrong MD5, a wrong size, a used or unknown
                            URL; downloads refused without the right key; a file removed
                            from ftrack.server through the client's location
    encode done|failed      encode_media of a picture: web-playable components, or (without
                            ffmpeg) a failed job that says why

Each step prints what it checked and exits 0, or fails with a traceback.
"""

import base64
import hashlib
import json
import os
import sys
import tempfile
import uuid

import requests

import ftrack_api
import ftrack_api.exception

SERVER = os.environ["FTRACK_SERVER"]
USER = os.environ["FTRACK_API_USER"]
KEY = os.environ["FTRACK_API_KEY"]


def session(cache):
    return ftrack_api.Session(
        server_url=SERVER,
        api_user=USER,
        api_key=KEY,
        auto_connect_event_hub=False,
        schema_cache_path=cache,
        plugin_paths=[],
    )


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print("ok:", what)


def workflow(cache):
    first = session(cache)
    # The second session finds the schemas in the cache (the server's hash matches the
    # client's): the Rust side counts the query_schemas requests in the server's log.
    s = session(cache)
    check(first.server_information["version"], "server information has a version")
    check(s.query('User where username is "%s"' % USER).one()["username"] == USER,
          "the API user is a User")

    schema = s.query("ProjectSchema").first()
    project = s.create(
        "Project",
        {"name": "acceptance", "full_name": "Acceptance", "project_schema": schema},
    )
    sequence = s.create("Sequence", {"name": "sq010", "parent": project})
    shots = [s.create("Shot", {"name": "sh%03d0" % i, "parent": sequence}) for i in (1, 2, 3)]
    comp = s.query('Type where name is "Compositing"').one()
    tasks = [s.create("Task", {"name": "comp", "parent": shot, "type": comp}) for shot in shots]
    s.commit()

    image = s.query('AssetType where short is "img"').one()
    asset = s.create("Asset", {"name": "plate", "parent": shots[0], "type": image})
    v1 = s.create("AssetVersion", {"asset": asset, "task": tasks[0]})
    s.commit()
    v2 = s.create("AssetVersion", {"asset": asset, "task": tasks[0]})
    s.commit()
    check((v1["version"], v2["version"]) == (1, 2), "versions numbered 1, 2 by the server")

    # A fresh session reads everything back from the server, not from its cache.
    r = session(cache)
    pid = project["id"]
    names = sorted(
        t["parent"]["name"]
        for t in r.query(
            'select name, parent.name from Task where project.id is "%s"' % pid
        ).all()
    )
    check(names == ["sh0010", "sh0020", "sh0030"], "dotted projection parent.name: %s" % names)
    deep = r.query('Task where parent.parent.name is "sq010" and parent.name is "sh0020"').all()
    check(len(deep) == 1, "dotted filter parent.parent.name")
    chosen = r.query('Shot where name in ("sh0010", "sh0030") and project.id is %s' % pid).all()
    check(sorted(x["name"] for x in chosen) == ["sh0010", "sh0030"], "in (...)")
    having = r.query("Asset where versions any (version is 2)").all()
    check([a["name"] for a in having] == ["plate"], "any (...)")
    ordered = r.query(
        'select name from Shot where parent.id is "%s" order by name descending' % sequence["id"]
    ).all()
    check([x["name"] for x in ordered] == ["sh0030", "sh0020", "sh0010"], "order by descending")
    version = r.get("AssetVersion", v2["id"])
    check(version["asset"]["name"] == "plate", "a reference loaded on demand")
    link = [item["name"] for item in version["link"]]
    check(link[:3] == ["acceptance", "sq010", "sh0010"], "link of a version: %s" % link)
    check(r.get("Project", pid)["context_type"] == "show", "context_type of a project")
    check(r.get("Shot", shots[0]["id"])["context_type"] == "task", "context_type of a shot")
    context = r.get("Context", shots[1]["id"])
    check(context.entity_type == "Shot", "Context queries give the concrete type")

    # Paging: more than one page of 500.
    many = s.create("Folder", {"name": "many", "parent": project})
    for i in range(520):
        s.create("Task", {"name": "t%04d" % i, "parent": many, "type": comp})
    s.commit()
    found = r.query('select name from Task where parent.id is "%s"' % many["id"]).all()
    check(len(found) == 520, "paging across more than 500 results: %d" % len(found))
    check(len({t["id"] for t in found}) == 520, "no result twice across pages")
    page = r.query('Task where parent.id is "%s" offset 510 limit 5' % many["id"]).all()
    check([t["name"] for t in page] == ["t0510", "t0511", "t0512", "t0513", "t0514"],
          "offset and limit")

    # Updates and deletes.
    shots[1]["description"] = "the middle one"
    s.commit()
    check(session(cache).get("Shot", shots[1]["id"])["description"] == "the middle one",
          "an update")
    s.delete(tasks[2])
    s.commit()
    left = session(cache).query('Task where parent.id is "%s"' % shots[2]["id"]).all()
    check(left == [], "a delete")
    s.delete(many)
    s.commit()
    check(session(cache).query('Task where parent.id is "%s"' % many["id"]).all() == [],
          "a delete takes what the entity owns")

    # A file through the ftrack.server location, and back byte for byte.
    server_location = s.query('Location where name is "ftrack.server"').one()
    payload = os.urandom(300_000) + b"end"
    with tempfile.NamedTemporaryFile(suffix=".exr", delete=False) as handle:
        handle.write(payload)
        path = handle.name
    component = v1.create_component(path, data={"name": "main"}, location=server_location)
    s.commit()
    url = server_location.get_url(component)
    downloaded = requests.get(url, timeout=30)
    check(downloaded.status_code == 200, "download answered 200")
    check(downloaded.content == payload, "downloaded file byte-identical")
    check(
        component["id"] in [c["id"] for c in session(cache).get("AssetVersion", v1["id"])["components"]],
        "the component is on the version",
    )
    os.unlink(path)


def png(path, width=64, height=48):
    """A small valid PNG: a red gradient (made here, so the test needs no image tools)."""
    import struct
    import zlib

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 4 % 256, y * 5 % 256, 40)) for x in range(width))
        for y in range(height)
    )
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def encode(expected):
    s = session(False)
    schema = s.query("ProjectSchema").first()
    project = s.create("Project", {"name": "media", "full_name": "Media", "project_schema": schema})
    image = s.query('AssetType where short is "img"').one()
    asset = s.create("Asset", {"name": "still", "parent": project, "type": image})
    version = s.create("AssetVersion", {"asset": asset})
    s.commit()
    # The client uploads the file to the server's location: the local copy can go after.
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "still.png")
        png(path)
        job = version.encode_media(path)
    check(job.entity_type == "Job", "encode_media answers a job")
    import time
    deadline = time.time() + 120
    while True:
        found = session(False).query('select status, data from Job where id is "%s"' % job["id"]).one()
        if found["status"] in ("done", "failed") or time.time() > deadline:
            break
        time.sleep(0.2)
    data = json.loads(found["data"])
    check(found["status"] == expected, "the job ended %s: %s" % (found["status"], data))
    if expected == "failed":
        check("ffmpeg" in data["message"], "the failure says ffmpeg is needed: %s" % data["message"])
        return
    formats = sorted(o["format"] for o in data["output"])
    check(formats == ["image/jpeg", "video/mp4"], "an mp4 and a jpeg: %s" % formats)
    r = session(False)
    server_location = r.query('Location where name is "ftrack.server"').one()
    mp4 = r.get("FileComponent", [o for o in data["output"] if o["format"] == "video/mp4"][0]["component_id"])
    check(mp4["name"] == "ftrackreview-mp4", "named ftrackreview-mp4")
    body = requests.get(server_location.get_url(mp4), timeout=30).content
    check(body[4:8] == b"ftyp", "the mp4 is an mp4")
    again = r.get("AssetVersion", version["id"])
    check(again["thumbnail_id"] is not None, "the version got a thumbnail")
    thumbnail = requests.get(SERVER + "/component/thumbnail", params={
        "id": again["thumbnail_id"], "username": USER, "apiKey": KEY}, timeout=30)
    check(thumbnail.content[:2] == b"\xff\xd8", "the thumbnail is a jpeg")
    names = sorted(c["name"] for c in again["components"])
    check(names == ["ftrackreview-image", "ftrackreview-mp4"], "the review components are on the version: %s" % names)


def create_project(name):
    s = session(False)
    schema = s.query("ProjectSchema").first()
    s.create("Project", {"name": name, "full_name": name, "project_schema": schema})
    s.commit()
    print("committed", name)


def expect_project(name):
    s = session(False)
    found = s.query('Project where name is "%s"' % name).all()
    check(len(found) == 1, "project %s survived" % name)


def errors():
    api = SERVER + "/api"
    good = {"ftrack-user": USER, "ftrack-api-key": KEY, "Content-Type": "application/json"}

    def post(body, headers=good, strict=False):
        headers = dict(headers)
        headers["ftrack-strict-api"] = "true" if strict else "false"
        return requests.post(api, data=body, headers=headers, timeout=60)

    def ftrack_error(response, exception, words):
        body = response.json()
        check(body.get("exception") == exception and "content" in body and "error_code" in body,
              "%s in ftrack's form: %s" % (exception, body))
        for word in words:
            check(word in body["content"], "the error says %r" % word)

    wrong = dict(good, **{"ftrack-api-key": "not-the-key"})
    ftrack_error(post("[]", wrong), "InvalidCredentialsError", ["API key"])
    check(post("[]", wrong, strict=True).status_code == 401, "strict mode: 401")
    ftrack_error(post("[{not json"), "ServerError", ["JSON"])
    ftrack_error(post(json.dumps([{"action": "frobnicate"}])), "ServerError", ["frobnicate"])
    bad = post(json.dumps([{"action": "query", "expression": "select name from Task where ("}]))
    ftrack_error(bad, "ServerError", ["column"])
    ftrack_error(post(json.dumps([{"action": "query", "expression": "Nope"}])), "ServerError",
                 ["Nope"])
    big = post(b"[" + b" " * (40 << 20) + b"]", strict=True)
    check(big.status_code == 413, "an oversized body: 413 in strict mode")
    ftrack_error(big, "ServerError", ["larger"])

    # Through the client: a ServerError it raises, and a session that goes on working.
    s = session(False)
    try:
        s.query("select name from Task where name is").all()
        raise AssertionError("a bad query must fail")
    except ftrack_api.exception.ServerError as error:
        check("column" in str(error), "the client's ServerError says where: %s" % error)
    try:
        s.create("Task", {"name": "orphan", "parent": {"__entity_type__": "Shot", "id": "0" * 32}})
        s.commit()
        raise AssertionError("a dangling reference must fail")
    except ftrack_api.exception.ServerError as error:
        check("no " in str(error), "a dangling reference is refused: %s" % error)
    s.rollback() if hasattr(s, "rollback") else s.reset()
    check(post(json.dumps([{"action": "query_server_information"}])).status_code == 200,
          "the server keeps serving")


def files():
    api = SERVER + "/api"
    good = {"ftrack-user": USER, "ftrack-api-key": KEY, "Content-Type": "application/json"}

    def md5(body):
        return base64.b64encode(hashlib.md5(body).digest()).decode()

    def upload_url(component_id, body):
        """get_upload_metadata as the client asks it: the URL and headers to PUT to."""
        answer = requests.post(api, headers=good, timeout=30, data=json.dumps([{
            "action": "get_upload_metadata", "component_id": component_id,
            "file_name": "data.bin", "file_size": len(body), "checksum": md5(body)}]))
        return answer.json()[0]

    def put(metadata, body):
        return requests.put(metadata["url"], data=body, headers=metadata["headers"], timeout=30)

    def download(route, component_id, **credentials):
        return requests.get(SERVER + route, params=dict(id=component_id, **credentials),
                            timeout=30)

    body = os.urandom(100_000)
    component_id = str(uuid.uuid4())
    mine = {"username": USER, "apiKey": KEY}

    tampered = body[:-1] + bytes([body[-1] ^ 1])
    refused = put(upload_url(component_id, body), tampered)
    check(refused.status_code == 400 and "MD5" in refused.text,
          "a wrong MD5 is refused: %s %s" % (refused.status_code, refused.text))
    check(download("/component/get", component_id, **mine).status_code == 404,
          "a refused upload leaves no file behind")
    short = put(upload_url(component_id, body), body[:-10])
    check(short.status_code == 400 and "declared" in short.text,
          "fewer bytes than declared are refused: %s" % short.text)
    long = put(upload_url(component_id, body), body + b"more")
    check(long.status_code == 400 and "larger" in long.text,
          "more bytes than declared are refused: %s" % long.text)
    check(download("/component/get", component_id, **mine).status_code == 404,
          "neither left a file behind")

    metadata = upload_url(component_id, body)
    check(put(metadata, body).status_code == 200, "the right content is stored")
    again = put(metadata, body)
    check(again.status_code == 403 and "used" in again.text,
          "a reused upload URL is refused: %s %s" % (again.status_code, again.text))
    unknown = requests.put(SERVER + "/component/upload/" + "0" * 64, data=body, timeout=30)
    check(unknown.status_code == 403, "an unknown upload URL is refused: %s" % unknown.status_code)

    for route in ("/component/get", "/component/thumbnail"):
        nobody = download(route, component_id)
        check(nobody.status_code == 401 and nobody.json()["exception"] == "InvalidCredentialsError",
              "%s: a download without a key is refused" % route)
        wrong = download(route, component_id, username=USER, apiKey="0" * 64)
        check(wrong.status_code == 401, "%s: a download with a wrong key is refused" % route)
        other = download(route, component_id, username="nobody", apiKey=KEY)
        check(other.status_code == 401, "%s: the key of another user is refused" % route)
        check(download(route, component_id, **mine).content == body,
              "%s: with the key, the file" % route)

    # Through the client: a component put in ftrack.server, then removed from it
    # (Location.remove_component asks GET /component/remove, then deletes the
    # ComponentLocation), then deleted.
    s = session(False)
    server_location = s.query('Location where name is "ftrack.server"').one()
    with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as handle:
        handle.write(body)
        path = handle.name
    component = s.create_component(path, data={"name": "doomed"}, location=server_location)
    url = server_location.get_url(component)
    check(requests.get(url, timeout=30).content == body, "the component's file is served")
    server_location.remove_component(component)
    check(requests.get(url, timeout=30).status_code == 404, "the file is gone from ftrack.server")
    fresh = session(False)
    availability = fresh.get_component_availability(fresh.get("FileComponent", component["id"]))
    check(availability[server_location["id"]] == 0.0,
          "the component is no longer available there: %s" % availability)
    s.delete(component)
    s.commit()
    check(session(False).query('Component where id is "%s"' % component["id"]).all() == [],
          "the component itself is deleted")
    os.unlink(path)


if __name__ == "__main__":
    step, args = sys.argv[1], sys.argv[2:]
    {
        "workflow": lambda: workflow(args[0]),
        "create-project": lambda: create_project(args[0]),
        "expect-project": lambda: expect_project(args[0]),
        "errors": errors,
        "encode": lambda: encode(args[0]),
        "files": files,
    }[step]()
