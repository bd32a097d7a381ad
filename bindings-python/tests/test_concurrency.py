"""Many sessions at once, threads sharing a session, closing while events are pending or a
consumer waits, cancellation, the GIL released while waiting, and Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import ctilink
from ctilink import events

from conftest import fast_office, sigint_default


def run(coro, limit: float = 60.0):
    return asyncio.run(asyncio.wait_for(coro, limit))


def test_many_asyncio_sessions_at_once():
    with fast_office(extensions="100-139") as sim:

        async def main():
            sessions = await asyncio.gather(*(ctilink.connect(sim.session_url) for _ in range(20)))
            streams = [s.events() for s in sessions]
            sim.emit_user_event("Hello", [("To", "all")])

            async def hello(stream):
                async for ev in stream:
                    if isinstance(ev, events.UserEvent) and ev.name == "Hello":
                        return ev.fields

            assert await asyncio.gather(*(hello(st) for st in streams)) == [(("To", "all"),)] * 20

            async def dial(i):
                s, st = sessions[i], streams[i]
                call = await s.make_call(str(100 + i), str(120 + i))
                progress = ctilink.DialProgress(call, str(100 + i), str(120 + i))
                async for ev in st:
                    outcome = progress.apply(ev)
                    if outcome is not None:
                        return outcome

            outcomes = await asyncio.gather(*(dial(i) for i in range(20)))
            assert outcomes == [ctilink.DialOutcome.ANSWERED] * 20
            await asyncio.gather(*(s.close() for s in sessions))
            assert sim.connections() == 0 or all(s.status() is ctilink.LinkStatus.CLOSED for s in sessions)

        run(main())


def test_threads_share_one_blocking_session():
    with fast_office(extensions="100-119") as sim:
        s = ctilink.connect_sync(sim.session_url)
        stream = s.events(timeout=5)
        errors = []

        def toggle(dev):
            try:
                for on in (True, False, True):
                    s.set_do_not_disturb(dev, on)
            except Exception as e:  # pragma: no cover - shown by the assertion below
                errors.append(e)

        threads = [threading.Thread(target=toggle, args=(str(100 + i),)) for i in range(10)]
        for t in threads:
            t.start()
        seen = {}
        for ev in stream:
            if isinstance(ev, events.DoNotDisturb):
                seen.setdefault(ev.device, []).append(ev.enabled)
                if sum(map(len, seen.values())) == 30:
                    break
        for t in threads:
            t.join(10)
        assert not errors, errors
        assert seen == {str(100 + i): [True, False, True] for i in range(10)}
        s.close()


def test_many_blocking_sessions_in_threads():
    with fast_office(extensions="100-139") as sim:
        outcomes = {}

        def worker(i):
            with ctilink.connect_sync(sim.session_url) as s:
                stream = s.events(timeout=5)
                call = s.make_call(str(100 + i), str(120 + i))
                progress = ctilink.DialProgress(call, str(100 + i), str(120 + i))
                for ev in stream:
                    outcome = progress.apply(ev)
                    if outcome is not None:
                        outcomes[i] = outcome
                        return

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert outcomes == {i: ctilink.DialOutcome.ANSWERED for i in range(12)}


def test_closing_with_events_pending_ends_the_async_stream():
    with fast_office() as sim:

        async def main():
            s = await ctilink.connect(sim.session_url)
            stream = s.events()
            sim.emit_burst(2000)
            await asyncio.sleep(0.2)  # the burst is on its way or queued
            await s.close()
            # What was queued is handed out, in order and without gaps, then the stream ends.
            seqs = [int(dict(ev.fields)["Seq"]) async for ev in stream if isinstance(ev, events.UserEvent)]
            assert seqs == list(range(1, len(seqs) + 1)), seqs[:20]
            assert len(seqs) > 0
            try:
                await stream.next(1.0)
            except ctilink.Closed:
                return
            raise AssertionError("next() after the end must raise Closed")

        run(main(), 20)


def test_closing_wakes_a_waiting_async_consumer():
    with fast_office() as sim:

        async def main():
            async with await ctilink.connect(sim.session_url) as s:
                stream = s.events()

                async def consume():
                    return [ev async for ev in stream]

                task = asyncio.ensure_future(consume())
                await asyncio.sleep(0.2)
                assert not task.done()
            # `async with` closed the session: the consumer's `async for` ends.
            got = await asyncio.wait_for(task, 5)
            assert all(not isinstance(e, events.UserEvent) for e in got)
            assert s.status() is ctilink.LinkStatus.CLOSED

        run(main())


def test_closing_wakes_a_blocked_thread():
    with fast_office() as sim:
        s = ctilink.connect_sync(sim.session_url)
        stream = s.events()
        ended = threading.Event()

        def consume():
            for _ in stream:
                pass
            ended.set()

        t = threading.Thread(target=consume)
        t.start()
        time.sleep(0.2)
        assert not ended.is_set()
        s.close()
        assert ended.wait(5), "the blocked iteration did not end on close"
        t.join(5)


def test_a_cancelled_wait_loses_no_event():
    with fast_office() as sim:

        async def main():
            s = await ctilink.connect(sim.session_url)
            stream = s.events()
            got = []

            def keep(ev):
                if isinstance(ev, events.UserEvent):
                    got.append(dict(ev.fields)["N"])

            for i in range(20):
                try:
                    keep(await asyncio.wait_for(stream.__anext__(), 0.001))
                except asyncio.TimeoutError:
                    pass
                sim.emit_user_event("Seq", [("N", str(i))])
            while len(got) < 20:
                ev = await stream.next(5)
                assert ev is not None, got
                keep(ev)
            # Cancellation may come after an event arrived; none is lost nor repeated.
            assert got == [str(i) for i in range(20)], got
            await s.close()

        run(main())


def test_the_gil_is_released_while_waiting():
    with fast_office() as sim:
        s = ctilink.connect_sync(sim.session_url)
        stream = s.events()
        counter = [0]
        stop = threading.Event()

        def spin():
            while not stop.is_set():
                counter[0] += 1

        t = threading.Thread(target=spin)
        t.start()
        try:
            before = counter[0]
            assert stream.next(timeout=0.5) is None
            during = counter[0] - before
        finally:
            stop.set()
            t.join()
        # A thread holding the GIL for 0.5 s would leave the counter nearly still.
        assert during > 100_000, during
        s.close()


def test_ctrl_c_interrupts_a_blocking_wait():
    with fast_office() as sim:
        script = textwrap.dedent(
            f"""
            import sys, ctilink
            s = ctilink.connect_sync({sim.session_url!r})
            stream = s.events()
            print("waiting", flush=True)
            try:
                stream.next()          # no timeout: only Ctrl-C ends this
            except KeyboardInterrupt:
                print("interrupted", flush=True)
                s.close()
                sys.exit(0)
            sys.exit(3)
            """
        )
        p = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=sigint_default,
        )
        try:
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "waiting"
            time.sleep(0.3)
            started = time.monotonic()
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
        assert p.returncode == 0, (out, err)
        assert "interrupted" in out
        assert time.monotonic() - started < 2.0


def test_asyncio_task_cancellation_propagates():
    with fast_office() as sim:

        async def main():
            s = await ctilink.connect(sim.session_url)
            stream = s.events()
            task = asyncio.ensure_future(stream.__anext__())
            await asyncio.sleep(0.05)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            else:
                raise AssertionError("not cancelled")
            sim.emit_user_event("After")
            ev = await stream.next(5)
            while ev is not None and not isinstance(ev, events.UserEvent):
                ev = await stream.next(5)
            assert ev is not None and ev.name == "After"
            await s.close()

        run(main())


def test_no_thread_is_left_behind_by_a_closed_session():
    """Sessions closed and collected leave the simulator without connections."""
    with fast_office() as sim:
        for _ in range(5):
            ctilink.connect_sync(sim.session_url).close()
        deadline = time.monotonic() + 5
        while sim.connections() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sim.connections() == 0
        assert sim.logins() == 5
        assert os.getpid() > 0
