import RumorSupport
/// Why a render or an apply did not happen. Each case carries what an operator needs to fix it without
/// reading Rumor's source: the file, the line, the reason, and HAProxy's own words.
public enum HAProxyActionError: Error, CustomStringConvertible, Sendable {
    /// The template does not parse.
    case templateSyntax(file: String, line: Int, column: Int, reason: String, lineText: String)
    /// The template (or another file) cannot be read or written.
    case file(FileError)
    /// HAProxy's check rejected the rendered configuration. `file` is where the rejected render was kept,
    /// `lines` the rendered lines HAProxy complained about (number and text), `output` HAProxy's message.
    case configRejected(template: String, file: String, lines: [(number: Int, text: String)], output: String)
    /// The render is valid HAProxy but cannot work in the configured apply mode.
    case unsuitableTemplate(template: String, reason: String)
    /// A subprocess could not be run at all.
    case spawn(ChildProcess.SpawnError)
    /// The runtime API or master CLI failed or answered with an error.
    case runtimeAPI(socket: String, command: String, message: String)
    /// HAProxy did not start, or exited during start-up.
    case startFailed(reason: String, output: String)
    /// A reload did not produce a new worker.
    case reloadFailed(reason: String)

    public var description: String {
        switch self {
        case .templateSyntax(let file, let line, let column, let reason, let lineText):
            return "\(file):\(line):\(column): template syntax error: \(reason)\n    \(lineText)"
        case .file(let error):
            return error.description
        case .configRejected(let template, let file, let lines, let output):
            var text = "HAProxy rejected the configuration rendered from \(template) (kept as \(file)); "
            text += "the running configuration is unchanged"
            for line in lines { text += "\n    line \(line.number): \(line.text)" }
            let trimmed = output.trimmingSpaces()
            if !trimmed.isEmpty { text += "\nhaproxy said:\n" + trimmed }
            return text
        case .unsuitableTemplate(let template, let reason):
            return "\(template): \(reason); the running configuration is unchanged"
        case .spawn(let error):
            return error.description
        case .runtimeAPI(let socket, let command, let message):
            return "HAProxy runtime API \(socket): \"\(command)\": \(message)"
        case .startFailed(let reason, let output):
            let trimmed = output.trimmingSpaces()
            return "HAProxy did not start: \(reason)" + (trimmed.isEmpty ? "" : "\nhaproxy said:\n" + trimmed)
        case .reloadFailed(let reason):
            return "HAProxy reload failed: \(reason)"
        }
    }
}

extension HAProxyActionError {
    /// Runs a file operation of RumorSupport's, reporting its failure as ``file(_:)``.
    static func onFile<T>(_ body: () throws(FileError) -> T) throws(HAProxyActionError) -> T {
        do throws(FileError) { return try body() } catch { throw .file(error) }
    }
}
