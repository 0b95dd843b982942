import Foundation
import Logging
import RumorAgent
import RumorCore
import RumorTestSupport
import Testing

/// Real `/bin/sh` runs: the contract as a script sees it, output capture, timeouts, and the runner's scheduling.
@Suite("Handler script runner", .timeLimit(.minutes(2)))
struct HandlerScriptRunnerTests {
    @Test func memberEventEnvironmentAndStdinReachTheScript() async throws {
        let dir = try TemporaryDirectory("handlers")
        defer { dir.remove() }
        let stub = try dir.script("dump.sh", """
            env > '\(dir.file("env"))'
            cat > '\(dir.file("stdin"))'
            """)
        let me = handlerMember("node1", "10.0.0.9", tags: ["role": "lb", "dc-name": "lab1"])
        let web = handlerMember("web1", "10.0.0.5", tags: ["role": "web", "dc": "lab1"])
        let bare = handlerMember("a", "127.0.0.1")
        let result = try await handlerRun(stub, event: .member(.join, [web, bare]), selfMember: me)
        #expect(result.termination == .exited(0))

        #expect(dir.bytes("stdin") == Array("web1\t10.0.0.5\tweb\tdc=lab1,role=web\na\t127.0.0.1\t\t\n".utf8))
        let env = Set((dir.read("env") ?? "").split(separator: "\n").map(String.init))
        for line in ["SERF_EVENT=member-join", "SERF_SELF_NAME=node1", "SERF_SELF_ROLE=lb", "SERF_TAG_ROLE=lb",
                     "SERF_TAG_DC_NAME=lab1"] {
            #expect(env.contains(line), "missing \(line)")
        }
        #expect(!env.contains { $0.hasPrefix("SERF_USER_") || $0.hasPrefix("SERF_QUERY_") })
        // The agent's own environment is passed on.
        let path = try #require(ProcessInfo.processInfo.environment["PATH"])
        #expect(env.contains("PATH=\(path)"))
    }

    @Test func userEventAndQueryVariablesAndPayloads() async throws {
        let dir = try TemporaryDirectory("handlers")
        defer { dir.remove() }
        let script = """
            cat > '\(dir.file("stdin"))'; \
            printf '%s|%s|%s|%s|%s' "$SERF_EVENT" "${SERF_USER_EVENT-unset}" "${SERF_USER_LTIME-unset}" \
            "${SERF_QUERY_NAME-unset}" "${SERF_QUERY_LTIME-unset}"
            """
        let user = try await handlerRun(script, event: .user(handlerUserEvent("deploy", "v1.2.3", ltime: 42)))
        #expect(user.text == "user|deploy|42|unset|unset")
        #expect(dir.read("stdin") == "v1.2.3\n")

        let q = HandlerQuery(ltime: 9, id: 3, name: "load", payload: []) { _ in }
        let query = try await handlerRun(script, event: .query(q))
        #expect(query.text == "query|unset|unset|load|9")
        #expect(dir.bytes("stdin") == [])
    }

    @Test func stdoutAndStderrShareTheLast8KiB() async throws {
        let log = LogCapture()
        // 2000 lines of 10 bytes, half to stderr: 20000 bytes in all.
        let script = """
            i=0; while [ $i -lt 2000 ]; do if [ $((i % 2)) -eq 0 ]; then printf '%09d\\n' $i; \
            else printf '%09d\\n' $i >&2; fi; i=$((i + 1)); done
            """
        let result = try await handlerRun(script, log: log)
        let expected = (0..<2000).map { String(repeating: "0", count: 9 - String($0).count) + "\($0)\n" }.joined()
        #expect(result.outputTotal == 20000)
        #expect(result.output.count == 8192)
        #expect(result.output == Array(Array(expected.utf8).suffix(8192)))
        #expect(log.contains(.warning, "agent: Script '\(script)' generated 20000 bytes of output, truncated to 8192"))
        #expect(log.contains(.debug, "agent: Event 'user' script output: "))
    }

    @Test func aFailingScriptIsLoggedWithItsExitCodeAndOutputTail() async throws {
        let log = LogCapture()
        let script = "echo boom; echo bang >&2; exit 3"
        let result = try await handlerRun(script, log: log)
        #expect(result.termination == .exited(3))
        #expect(!result.succeeded)
        #expect(log.messages(.error) == [
            "agent: Error invoking script '\(script)': exit status 3; output tail: boom\\nbang\\n",
        ])
    }

    @Test func timeoutKillsTheWholeProcessGroupAndIsLogged() async throws {
        let dir = try TemporaryDirectory("handlers")
        defer { dir.remove() }
        let log = LogCapture()
        let script = "sleep 1000 & echo $! > '\(dir.file("pid"))'; sleep 1000"
        let started = ContinuousClock.now
        let result = try await handlerRun(script, timeout: .milliseconds(300), log: log)
        // Far below the script's 1000 s, yet loose enough for a loaded CI machine.
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(result.timedOut)
        #expect(result.termination == .signaled(SIGKILL))
        let errors = log.messages(.error)
        #expect(errors.count == 1)
        let expected = "agent: Script '\(script)' timed out after 300ms handling user; killed its process group "
        #expect(errors.first?.hasPrefix(expected) == true)
        // The background `sleep` was in the group too.
        let pid = try #require(Int32((dir.read("pid") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)))
        try await eventually("the background sleep to die") { processIsDead(pid) }
    }

    @Test func aSlowScriptIsWarnedAbout() async throws {
        let log = LogCapture()
        let result = try await handlerRun("sleep 0.3", slow: .milliseconds(100), log: log)
        #expect(result.succeeded)
        #expect(log.messages(.warning) == ["agent: Script 'sleep 0.3' slow, execution exceeding 100ms"])
    }

    @Test func aScriptThatNeverReadsStdinDoesNotDeadlock() async throws {
        let log = LogCapture()
        let payload = String(repeating: "x", count: 4 * 1024 * 1024)
        let started = ContinuousClock.now
        let big = HandlerEvent.user(handlerUserEvent("big", payload))
        let ignoring = try await handlerRun("sleep 0.2; echo ok", event: big, log: log)
        #expect(ignoring.text == "ok\n")
        #expect(ignoring.succeeded)
        #expect(log.contains(.debug, "did not read all of its stdin"))
        let partial = try await handlerRun("head -c 5", event: .user(handlerUserEvent("big", payload)))
        #expect(partial.text == "xxxxx")
        let all = try await handlerRun("wc -c", event: .user(handlerUserEvent("big", payload)))
        #expect(all.text.trimmingCharacters(in: .whitespacesAndNewlines) == String(4 * 1024 * 1024 + 1))
        #expect(ContinuousClock.now - started < .seconds(20))
    }

    @Test func aShellThatExitsWhileItsChildHoldsTheOutputFinishesPromptly() async throws {
        let started = ContinuousClock.now
        let result = try await handlerRun("sleep 1000 & echo $!")
        // Far below the child's 1000 s, yet loose enough for a loaded CI machine.
        #expect(ContinuousClock.now - started < .seconds(30))
        #expect(result.succeeded)
        let pid = try #require(Int32(result.text.trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(pid, SIGKILL)
    }

    @Test func concurrencyIsBoundedAcrossLanes() async throws {
        let dir = try TemporaryDirectory("handlers")
        defer { dir.remove() }
        for limit in [1, 2] {
            let order = HandlerBox<[String]>([])
            let runner = ScriptRunner(maxConcurrent: limit, logger: LogCapture().logger)
            for (lane, script) in [("slow", "sleep 0.3"), ("fast", "true")] {
                let inv = ScriptInvocation(
                    script: script, event: .user(handlerUserEvent("e", "")), selfMember: handlerMember("n"))
                runner.enqueue(ScriptJob(invocation: inv) { _ in order.mutate { $0.append(lane) } }, lane: lane)
            }
            try await eventually("both runs") { order.value.count == 2 }
            await runner.shutdown()
            // One slot: the fast run waits for the slow one; two: it overtakes it.
            #expect(order.value == (limit == 1 ? ["slow", "fast"] : ["fast", "slow"]))
        }
    }

    @Test func shutdownKillsRunningScriptsAndDropsQueuedOnes() async throws {
        let log = LogCapture()
        let runner = ScriptRunner(logger: log.logger)
        let results = HandlerBox<[ScriptResult]>([])
        let inv = ScriptInvocation(
            script: "sleep 1000", event: .user(handlerUserEvent("e", "")), selfMember: handlerMember("n"))
        for _ in 0..<3 {
            runner.enqueue(ScriptJob(invocation: inv) { r in results.mutate { $0.append(r) } }, lane: "one")
        }
        try await eventually("the first run to start") { runner.load == (running: 1, queued: 2) }
        await runner.shutdown()
        let notRun = Termination.failed("not run: shut down")
        #expect(results.value.map(\.termination) == [.signaled(SIGKILL), notRun, notRun])
        #expect(log.contains(.warning, "agent: killed 1 running event handler script(s)"))
        #expect(log.contains(.warning, "agent: dropped 2 queued event handler run(s) at shutdown"))
        runner.enqueue(ScriptJob(invocation: inv) { r in results.mutate { $0.append(r) } }, lane: "late")
        #expect(log.contains(.warning, "agent: event handlers are shut down; not running 'sleep 1000'"))
        #expect(results.value.last?.termination == notRun)
    }

    @Test func aLaneThatFallsTooFarBehindDropsNewRuns() async throws {
        let log = LogCapture()
        let runner = ScriptRunner(maxQueuedPerLane: 2, logger: log.logger)
        let results = HandlerBox<[Termination]>([])
        let inv = ScriptInvocation(
            script: "sleep 1000", event: .user(handlerUserEvent("e", "")), selfMember: handlerMember("n"))
        let job = ScriptJob(invocation: inv) { r in results.mutate { $0.append(r.termination) } }
        runner.enqueue(job, lane: "stuck")
        try await eventually("the first run to start") { runner.load == (running: 1, queued: 0) }
        for _ in 0..<4 { runner.enqueue(job, lane: "stuck") }
        #expect(runner.load == (running: 1, queued: 2))
        #expect(results.value == [.failed("not run: queue full"), .failed("not run: queue full")])
        // Only the backlog warning: under load the stuck script may also be reported slow, which is not the point.
        #expect(log.messages(.warning).filter { $0.contains("behind") } == [
            "agent: Script 'sleep 1000' is 2 runs behind; dropping user events (1 so far)",
        ])
        await runner.shutdown()
    }

    @Test func scriptsInheritNoFileDescriptorsBeyondStdio() async throws {
        // A descriptor the agent opened without close-on-exec must not reach scripts.
        let fd = open("/dev/null", O_RDONLY)
        defer { close(fd) }
        let result = try await handlerRun("ls /proc/self/fd | sort -n | tr '\\n' ' '")
        // 0-2 are stdio, 3 is `ls`'s own directory handle.
        #expect(result.text == "0 1 2 3 ")
    }
}
