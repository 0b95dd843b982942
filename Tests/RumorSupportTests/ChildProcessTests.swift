#if canImport(Glibc)
import Glibc
#endif
import RumorSupport
import RumorTestSupport
import Testing

@Suite struct ChildProcessTests {
    @Test func runCollectsOutputAndStatus() throws {
        let result = try ChildProcess.run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
        #expect(result.status == .exited(3))
        #expect(result.output == "out\nerr\n")
        #expect(result.status.description == "exit status 3")
    }

    @Test func childrenInheritNoDescriptorOfOurs() throws {
        // A descriptor opened without close-on-exec, as a library might. F_DUPFD takes the lowest free number from
        // 200 up: dup2 to a fixed number would silently close whatever another test running in this process holds
        // there (it closed an event loop's eventfd once, and NIO trapped).
        let opened = open("/dev/null", O_RDONLY)
        let leaky = fcntl(opened, F_DUPFD, 200)
        close(opened)
        defer { close(leaky) }
        #expect(leaky >= 200)
        let result = try ChildProcess.run(["/bin/sh", "-c", "[ -e /proc/$$/fd/\(leaky) ] && echo leaked || echo clean"])
        #expect(result.output == "clean\n")
    }

    @Test func aTimeoutKillsTheWholeGroup() throws {
        let start = ContinuousClock.now
        let result = try ChildProcess.run(["/bin/sh", "-c", "sleep 30 & sleep 30"], timeout: .milliseconds(300))
        #expect(result.status == .signaled(SIGKILL))
        // The background sleep held the output pipe: had it survived, EOF would never have come.
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func aMissingProgramIsAnErrorNamingIt() {
        #expect {
            try ChildProcess.run(["/nonexistent/program"])
        } throws: { error in
            "\(error)".contains("/nonexistent/program")
        }
    }

    @Test func stdinPipeAndNonblockingOutput() throws {
        let child = try ChildProcess.spawn(["/bin/cat"], stdin: .pipe, nonblocking: true)
        let bytes = Array("hello".utf8)
        #expect(bytes.withUnsafeBytes { write(child.stdinFD, $0.baseAddress, $0.count) } == 5)
        child.closeStdin()
        var output: [UInt8] = []
        reading: while true {
            switch child.readOutput(timeout: .seconds(5)) {
            case .data(let more): output += more
            case .eof: break reading
            case .timeout: continue
            }
        }
        #expect(output == bytes)
        #expect(child.waitBlocking() == .exited(0))
    }
}

@Suite struct DurableFileTests {
    @Test func writesExactlyTheModeAndLeavesNoTemporaryFile() throws {
        let dir = try TemporaryDirectory("support")
        defer { dir.remove() }
        let old = umask(0o077)
        defer { umask(old) }
        try DurableFile.writeAtomically(Array("secret".utf8), to: dir.path + "/k", mode: 0o600)
        try DurableFile.writeAtomically(Array("public".utf8), to: dir.path + "/p", mode: 0o644)
        var info = stat()
        stat(dir.path + "/p", &info)
        #expect(info.st_mode & 0o777 == 0o644)
        stat(dir.path + "/k", &info)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(try FileSystem.entries(of: dir.path) == ["k", "p"])
        #expect(try DurableFile.readText(dir.path + "/k") == "secret")
    }

    @Test func readsRefuseDirectoriesFifosAndHugeFiles() throws {
        let dir = try TemporaryDirectory("support")
        defer { dir.remove() }
        #expect(throws: FileError(path: dir.path, operation: "read", code: EISDIR)) { try DurableFile.readAll(dir.path) }
        mkfifo(dir.path + "/fifo", 0o600)
        #expect(throws: FileError.self) { try DurableFile.readAll(dir.path + "/fifo") }
        try DurableFile.writeAtomically([UInt8](repeating: 1, count: 100), to: dir.path + "/big")
        #expect(throws: FileError.self) { try DurableFile.readAll(dir.path + "/big", limit: 99) }
        #expect(try DurableFile.readAllIfExists(dir.path + "/none") == nil)
    }
}
