"""A local stand-in for Slack's Web API, on loopback.

`rapport console` points the bot at it so the real app and handlers run with no Slack at hand; the
tests point the bot at it too and read what it recorded. It answers the methods Rapport calls the way
Slack documents them, records every call, and can be told to fail (HTTP errors, 429 with
Retry-After, Slack errors such as `channel_not_found`, dropped connections), to be slow, or to hold a
call unprocessed until the test releases it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.channels import is_direct_message

# Form-encoded calls carry these as JSON strings.
_JSON_ARGS = ("blocks", "attachments", "view", "metadata", "files")
# Not a Web API method: files_upload_v2's POST of the bytes to the URL files.getUploadURLExternal gave. It is
# recorded under this name, and `fail`, `slow`, `hold` take it like a method.
UPLOAD = "upload"


@dataclass(frozen=True)
class ApiCall:
    method: str  # e.g. "chat.postMessage"; "response_url" for posts to a response_url
    args: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)


class Hold:
    """A call Slack has received but not yet processed: it waits until the test releases it (at the latest
    after `limit` seconds, so a forgotten hold never wedges the server), then is done and answered."""

    def __init__(self, method: str, limit: float) -> None:
        self.method = method
        self.limit = limit
        self.arrived = threading.Event()
        self.args: dict[str, Any] | None = None
        self._released = threading.Event()

    def wait_arrived(self, timeout: float = 10.0) -> bool:
        """True once the held call has reached Slack."""
        return self.arrived.wait(timeout)

    def release(self) -> None:
        self._released.set()

    def _arrive(self, args: dict[str, Any]) -> None:
        self.args = args
        self.arrived.set()

    def _wait(self) -> None:
        self._released.wait(self.limit)


@dataclass
class Fault:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    drop: bool = False  # close the connection without answering
    delay: float = 0.0  # do the work (a post lands in the channel), then wait this long before answering
    hold: Hold | None = None  # wait for the test's release before doing the work, then answer


class LocalSlack:
    def __init__(self, *, team_id: str = "T0LOCAL", bot_user_id: str = "U0RAPPORT",
                 default_tz: str | None = None) -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        # users.info: the zone of each user the test or the console names; others are everyone's
        # `default_tz`, or, with none, unknown to this Slack (user_not_found).
        self.user_zones: dict[str, str] = {}
        self.default_tz = default_tz
        # users.info's workspace roles: user ids Slack says are admins (is_admin) or owners (is_owner).
        # A user named here is known to this Slack even without a zone.
        self.admins: set[str] = set()
        self.owners: set[str] = set()
        # users.lookupByEmail: the users Slack knows by email (lower case) -> their user id; others users_not_found.
        self.emails: dict[str, str] = {}
        # conversations.info: channels shared with another organisation (a set answers is_ext_shared and
        # is_shared; a dict gives the flags themselves); others are internal. `unknown_channels` answer
        # channel_not_found.
        self.shared_channels: set[str] | dict[str, dict[str, bool]] = set()
        self.unknown_channels: set[str] = set()
        self.calls: list[ApiCall] = []
        self.messages: dict[str, list[dict[str, Any]]] = defaultdict(list)
        # Files shared through files_upload_v2: {"id", "channel", "title", "filename", "content" (bytes), ...}.
        self.files: list[dict[str, Any]] = []
        self._uploads: dict[str, dict[str, Any]] = {}  # file id -> what getUploadURLExternal promised, and the bytes
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._holds: list[Hold] = []
        self._lock = threading.Condition()
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> LocalSlack:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="local-slack",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            holds = list(self._holds)
        for hold in holds:
            hold.release()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalSlack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    @property
    def api_url(self) -> str:
        return self.base_url + "api/"

    def response_url(self, name: str = "1") -> str:
        return f"{self.base_url}respond/{name}"

    # -- what was called ---------------------------------------------------------------------
    def calls_to(self, method: str) -> list[ApiCall]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[ApiCall]:
        """The calls to `method` once there are at least `count` of them (or fewer at the timeout)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [call for call in self.calls if call.method == method]
                remaining = deadline - time.monotonic()
                if len(found) >= count or remaining <= 0:
                    return found
                self._lock.wait(remaining)

    # -- faults ------------------------------------------------------------------------------
    def fail(self, method: str, *, times: int = 1, status: int = 200, error: str | None = None,
             retry_after: int | None = None, drop: bool = False) -> None:
        """Answer the next `times` calls to `method` with this fault instead of success."""
        with self._lock:
            for _ in range(times):
                self._faults[method].append(Fault(status, error, retry_after, drop))

    def slow(self, method: str, seconds: float, *, times: int = 1) -> None:
        """Succeed on the next `times` calls, but answer only after `seconds` (a crash can fall in between)."""
        with self._lock:
            for _ in range(times):
                self._faults[method].append(Fault(delay=seconds))

    def hold(self, method: str, *, limit: float = 60.0) -> Hold:
        """Hold the next call to `method` as Slack still processing it: the call is recorded when it
        arrives, but its work (a post landing in the channel, visible to conversations.history) and its
        answer wait until `release()` (or `limit` seconds). Faults queued before this one apply first."""
        hold = Hold(method, limit)
        with self._lock:
            self._holds.append(hold)
            self._faults[method].append(Fault(hold=hold))
        return hold

    def pass_through(self, method: str, *, times: int = 1) -> None:
        """Let the next `times` calls succeed before the faults queued after this (e.g. every 3rd post fails)."""
        with self._lock:
            for _ in range(times):
                self._faults[method].append(Fault(status=0))

    @staticmethod
    def dm_channel(channel: str) -> str:
        """The id of the app's DM with a user (given a user id), else `channel` itself."""
        return "D" + channel[1:31] if is_direct_message(channel) else channel

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages posted with chat.postMessage, oldest first (in one channel, or in all; a user id: the
        app's DM with that user)."""
        with self._lock:
            if channel is not None:
                return list(self.messages.get(self.dm_channel(channel), []))
            return [message for messages in self.messages.values() for message in messages]

    def shared_files(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Files completed with files.completeUploadExternal, oldest first (in one channel, or in all)."""
        with self._lock:
            return [f for f in self.files if channel is None or f["channel"] == channel]

    def _next_fault(self, method: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(method)
            return queue.popleft() if queue else None

    # -- answers -----------------------------------------------------------------------------
    def _record(self, method: str, args: dict[str, Any], token: str | None) -> None:
        with self._lock:
            self.calls.append(ApiCall(method, args, token))
            self._lock.notify_all()

    def _receive_upload(self, file_id: str, content: bytes) -> tuple[int, str]:
        with self._lock:
            upload = self._uploads.get(file_id)
            if upload is None:
                return 404, "unknown upload"
            if len(content) != upload["length"]:
                return 400, "length mismatch"
            upload["content"] = content
        return 200, "OK - " + str(len(content))

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "url": "https://local.slack.invalid/", "team": "Local", "user": "rapport",
                    "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": "B0RAPPORT"}
        if method == "chat.postMessage":
            ts = self._next_ts()
            message = {"type": "message", "ts": ts, "text": args.get("text"), "blocks": args.get("blocks"),
                       "bot_id": "B0RAPPORT", "user": self.bot_user_id}
            if args.get("metadata"):
                message["metadata"] = args["metadata"]
            # As Slack does: a user id as the channel posts in the app's DM with them, named by its D id.
            channel = self.dm_channel(args.get("channel", ""))
            with self._lock:
                self.messages[channel].append(message)
            return {"ok": True, "channel": channel, "ts": ts, "message": message}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method == "chat.getPermalink":
            ts = str(args.get("message_ts", "")).replace(".", "")
            return {"ok": True, "channel": args.get("channel"),
                    "permalink": f"https://local.slack.invalid/archives/{args.get('channel')}/p{ts}"}
        if method in ("views.open", "views.update", "views.push", "views.publish"):
            view = args.get("view") or {}
            return {"ok": True, "view": {**view, "id": f"V{next(self._ids):08d}", "team_id": self.team_id}}
        if method == "conversations.join":
            return {"ok": True, "channel": {"id": args.get("channel")}}
        if method == "conversations.history":
            if is_direct_message(str(args.get("channel") or "")):  # Slack wants the DM's D id here
                return {"ok": False, "error": "channel_not_found"}
            with self._lock:
                history = list(reversed(self.messages.get(args.get("channel", ""), [])))
            oldest = float(args.get("oldest") or 0)
            return {"ok": True, "has_more": False,
                    "messages": [m for m in history if float(m["ts"]) >= oldest][: int(args.get("limit") or 100)]}
        if method == "conversations.open":
            users = str(args.get("users") or "")
            if not users or "," in users:
                return {"ok": False, "error": "invalid_arguments"}
            return {"ok": True, "channel": {"id": self.dm_channel(users)}}
        if method == "files.getUploadURLExternal":
            if not args.get("filename") or not str(args.get("length") or "").isdigit():
                return {"ok": False, "error": "invalid_arguments"}
            file_id = f"F{next(self._ids):08d}"
            with self._lock:
                self._uploads[file_id] = {"filename": args["filename"], "length": int(args["length"]), "content": None}
            return {"ok": True, "file_id": file_id, "upload_url": f"{self.base_url}upload/{file_id}"}
        if method == "files.completeUploadExternal":
            files = args.get("files")
            files = json.loads(files) if isinstance(files, str) else files
            completed = []
            with self._lock:
                for item in files or []:
                    upload = self._uploads.get(item.get("id"))
                    if upload is None or upload["content"] is None:
                        return {"ok": False, "error": "file_not_found"}
                    completed.append({**upload, "id": item["id"], "title": item.get("title"),
                                      "channel": args.get("channel_id"),
                                      "initial_comment": args.get("initial_comment")})
                self.files.extend(completed)
            return {"ok": True, "files": [{"id": f["id"], "name": f["filename"], "title": f["title"]}
                                          for f in completed]}
        if method == "conversations.info":
            channel_id = str(args.get("channel") or "")
            if channel_id in self.unknown_channels:
                return {"ok": False, "error": "channel_not_found"}
            flags = {"is_ext_shared": False, "is_shared": False, "is_org_shared": False,
                     "is_pending_ext_shared": False}
            if isinstance(self.shared_channels, dict):
                flags.update(self.shared_channels.get(channel_id, {}))
            elif channel_id in self.shared_channels:
                flags.update(is_ext_shared=True, is_shared=True)
            return {"ok": True, "channel": {"id": channel_id, "name": channel_id.lower(), "is_channel": True,
                                            **flags}}
        if method == "users.lookupByEmail":
            email = str(args.get("email") or "").strip().lower()
            if email not in self.emails:
                return {"ok": False, "error": "users_not_found"}
            return {"ok": True, "user": {"id": self.emails[email], "profile": {"email": email}}}
        if method == "users.info":
            user_id = str(args.get("user") or "")
            tz = self.user_zones.get(user_id, self.default_tz)
            admin, owner = user_id in self.admins, user_id in self.owners
            if tz is None and not (admin or owner):
                return {"ok": False, "error": "user_not_found"}
            user = {"id": user_id, "name": user_id.lower(), "is_admin": admin or owner, "is_owner": owner}
            return {"ok": True, "user": {**user, "tz": tz} if tz is not None else user}
        return {"ok": True}


def _handler_for(slack: LocalSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet: the calls are recorded instead
            pass

        def do_GET(self) -> None:
            self._handle(b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._handle(self.rfile.read(length))

        def _handle(self, body: bytes) -> None:
            url = urlsplit(self.path)
            if url.path.startswith("/upload/"):  # files_upload_v2's second step: the bytes, as they are
                return self._upload(url.path.removeprefix("/upload/"), body)
            args = _parse_args(body, self.headers.get("Content-Type", ""), url.query)
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ") or args.pop("token", None)
            if url.path.startswith("/respond/"):
                slack._record("response_url", args, None)
                return self._send(200, "ok", content_type="text/plain")
            if not url.path.startswith("/api/"):
                return self._send(404, {"ok": False, "error": "unknown_path"})
            method = url.path.removeprefix("/api/")
            fault = slack._next_fault(method)
            if fault and fault.drop:
                self.close_connection = True
                self.connection.close()
                return None
            slack._record(method, args, token)
            if fault and fault.hold:
                fault.hold._arrive(args)
                fault.hold._wait()
                return self._send(200, slack.answer(method, args))
            if fault and (fault.delay or fault.status == 0):
                answer = slack.answer(method, args)
                time.sleep(fault.delay)
                return self._send(200, answer)
            if fault:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                if fault.status >= 400:
                    error = fault.error or ("ratelimited" if fault.status == 429 else "internal_error")
                    return self._send(fault.status, {"ok": False, "error": error}, headers=headers)
                return self._send(200, {"ok": False, "error": fault.error or "fatal_error"}, headers=headers)
            return self._send(200, slack.answer(method, args))

        def _upload(self, file_id: str, body: bytes) -> None:
            """The bytes POSTed to the upload URL; faults queued for UPLOAD apply (a 5xx stores nothing)."""
            fault = slack._next_fault(UPLOAD)
            if fault and fault.drop:
                self.close_connection = True
                self.connection.close()
                return None
            slack._record(UPLOAD, {"file_id": file_id, "length": len(body)}, None)
            if fault and fault.hold:
                fault.hold._arrive({"file_id": file_id})
                fault.hold._wait()
            if fault and fault.status >= 400:
                return self._send(fault.status, fault.error or "upload failed", content_type="text/plain")
            answer = slack._receive_upload(file_id, body)
            if fault and fault.delay:
                time.sleep(fault.delay)
            return self._send(*answer, content_type="text/plain")

        def _send(self, status: int, payload: Any, *, content_type: str = "application/json",
                  headers: dict[str, str] | None = None) -> None:
            data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", f"{content_type}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the caller gave up waiting (a timeout, a killed process)

    return Handler


def _parse_args(body: bytes, content_type: str, query: str) -> dict[str, Any]:
    args: dict[str, Any] = {key: values[0] for key, values in parse_qs(query).items()}
    if body:
        if content_type.startswith("application/json"):
            args.update(json.loads(body))
        else:
            args.update({key: values[0] for key, values in parse_qs(body.decode()).items()})
    for key in _JSON_ARGS:
        if isinstance(args.get(key), str):
            with contextlib.suppress(ValueError):
                args[key] = json.loads(args[key])
    return args
