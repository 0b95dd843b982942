import RumorSupport
/// Puts a rendered configuration in place only after HAProxy accepted it: write a candidate next to `output`,
/// run the check command on it, then rename it over `output` (atomic on one file system). A rejected candidate is
/// kept as `<output>.rejected` for the operator and the running configuration is never touched.
struct ConfigInstaller: Sendable {
    var output: String
    var checkCommand: String
    var haproxyBinary: String

    var candidatePath: String { output + ".rumor-new" }
    var rejectedPath: String { output + ".rejected" }

    /// Blocking: runs HAProxy's check. Call on the thread pool.
    func install(_ text: String, templateName: String) throws(HAProxyActionError) {
        do throws(FileError) {
            try FileSystem.makeDirectories(FileSystem.directory(of: output))
            try DurableFile.writeAtomically(Array(text.utf8), to: candidatePath)
        } catch {
            throw .file(error)
        }
        if let argv = checkArgv(file: candidatePath) {
            let result: (status: ExitStatus, output: String)
            do throws(ChildProcess.SpawnError) {
                result = try ChildProcess.run(argv, timeout: .seconds(30))
            } catch {
                FileSystem.remove(candidatePath)
                throw .spawn(error)
            }
            if !result.status.succeeded {
                try? DurableFile.move(candidatePath, over: rejectedPath)
                let said = result.output.replacing(candidatePath, with: rejectedPath)
                throw .configRejected(
                    template: templateName, file: rejectedPath,
                    lines: Self.complainedLines(in: said, file: rejectedPath, text: text),
                    output: said + (said.isEmpty ? "" : "\n") + "(check command: \(result.status))")
            }
        }
        do throws(FileError) { try DurableFile.move(candidatePath, over: output) } catch { throw .file(error) }
    }

    /// The check command's argv; a leading `haproxy` means the configured binary.
    func checkArgv(file: String) -> [String]? {
        guard !checkCommand.isEmpty, var argv = CommandLineSplitter.split(checkCommand), !argv.isEmpty else {
            return nil
        }
        if argv[0] == "haproxy" { argv[0] = haproxyBinary }
        return argv.map { $0.replacing("{file}", with: file) }
    }

    /// HAProxy names lines as `[<file>:<line>]`; returns those lines of the rendered text.
    static func complainedLines(in output: String, file: String, text: String) -> [(number: Int, text: String)] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var numbers: [Int] = []
        var rest = Substring(output)
        let marker = "[\(file):"
        while let r = rest.firstRange(of: marker) {
            rest = rest[r.upperBound...]
            let digits = rest.prefix { $0.isNumber }
            if let n = Int(digits), !numbers.contains(n) { numbers.append(n) }
        }
        return numbers.filter { $0 >= 1 && $0 <= lines.count }.map { ($0, String(lines[$0 - 1]).trimmingSpaces()) }
    }
}

/// What of a rendered configuration needs a reload to take effect. Server lines of the member slots
/// (`server srvN ADDRESS:PORT ... [disabled]` in the member backend) contribute everything but their address and
/// `disabled`, which the runtime API sets; comment lines and blank lines contribute nothing. Two renders with the
/// same key differ only in what runtime mode can push without a reload.
enum StructureKey {
    /// Keywords that open a section (HAProxy allows any indentation, so indentation cannot tell).
    static let sectionKeywords: Set<Substring> = [
        "global", "defaults", "frontend", "backend", "listen", "peers", "resolvers", "userlist", "mailers",
        "program", "http-errors", "ring", "cache", "fcgi-app",
    ]

    static func of(_ text: String, backend: String) -> String {
        var key: [Substring] = []
        var inMemberBackend = false
        for line in text.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = words.first, !first.hasPrefix("#") else { continue }
            if sectionKeywords.contains(first) {
                inMemberBackend = words.count >= 2 && (first == "backend" || first == "listen") && words[1] == backend
                key.append(line)
            } else if inMemberBackend, words.count >= 3, first == "server", isSlotName(words[1]) {
                let options = words[3...].filter { $0 != "disabled" }
                key.append(Substring(([first, words[1]] + options).joined(separator: " ")))
            } else {
                key.append(line)
            }
        }
        return key.joined(separator: "\n")
    }

    /// Why a render cannot work in runtime mode, or nil: rumor drives servers `srv1...srvN` of the member backend
    /// through an admin-level stats socket at the configured path, so the template must render both.
    static func runtimeProblem(_ text: String, backend: String, slotCount: Int, statsSocket: String) -> String? {
        var slots: Set<Substring> = []
        var inMemberBackend = false
        var hasSocket = false
        for line in text.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = words.first, !first.hasPrefix("#") else { continue }
            if sectionKeywords.contains(first) {
                inMemberBackend = words.count >= 2 && (first == "backend" || first == "listen") && words[1] == backend
            } else if inMemberBackend, first == "server", words.count >= 2 {
                slots.insert(words[1])
            } else if first == "stats", words.count >= 3, words[1] == "socket", words[2] == statsSocket,
                words.contains("admin")
            {
                hasSocket = true
            }
        }
        let missing = (0..<slotCount).map { Substring(SlotTable.serverName(index: $0)) }.filter { !slots.contains($0) }
        if let name = missing.first {
            return "runtime mode needs every slot rendered in backend \(backend) ({{#slots}}server {{server}} ..."
                + "{{/slots}}); server \(name) is missing"
        }
        if !hasSocket {
            return "runtime mode needs \"stats socket \(statsSocket) level admin\" in the global section"
                + " (stats socket {{stats_socket}} mode 600 level admin expose-fd listeners)"
        }
        return nil
    }

    private static func isSlotName(_ word: Substring) -> Bool {
        word.hasPrefix("srv") && word.count > 3 && word.dropFirst(3).allSatisfy { $0.isASCII && $0.isNumber }
    }
}
