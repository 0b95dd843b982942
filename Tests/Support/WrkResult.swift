import Foundation

/// Runs wrk against the load balancer and parses its report.
package struct WrkResult: Sendable, CustomStringConvertible {
    package var requests = 0
    package var seconds = 0.0
    package var requestsPerSecond = 0.0
    /// "Socket errors: connect C, read R, write W, timeout T" (absent when all are zero).
    package var connectErrors = 0, readErrors = 0, writeErrors = 0, timeouts = 0
    /// "Non-2xx or 3xx responses: N" (absent when zero).
    package var non2xx = 0
    package var p50 = "", p99 = "", maxLatency = ""
    package var raw = ""

    package var socketErrors: Int { connectErrors + readErrors + writeErrors + timeouts }
    package var failed: Int { socketErrors + non2xx }

    package var description: String {
        "\(requests) requests in \(seconds)s (\(Int(requestsPerSecond)) req/s), failed \(failed) "
            + "(socket errors connect \(connectErrors) read \(readErrors) write \(writeErrors) timeout \(timeouts), "
            + "non-2xx \(non2xx)), latency p50 \(p50) p99 \(p99) max \(maxLatency)"
    }

    package static func parse(_ text: String) -> WrkResult {
        var r = WrkResult(raw: text)
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ")
            if line.contains("requests in"), let n = Int(words.first ?? "") {
                r.requests = n
                if let i = words.firstIndex(of: "in"), i + 1 < words.count {
                    r.seconds = Double(words[i + 1].trimmingCharacters(in: CharacterSet(charactersIn: "s,"))) ?? 0
                }
            } else if line.hasPrefix("Requests/sec:") {
                r.requestsPerSecond = Double(words.last ?? "") ?? 0
            } else if line.contains("Socket errors:") {
                func value(_ key: String) -> Int {
                    guard let i = words.firstIndex(of: Substring(key)), i + 1 < words.count else { return 0 }
                    return Int(words[i + 1].trimmingCharacters(in: CharacterSet(charactersIn: ","))) ?? 0
                }
                r.connectErrors = value("connect")
                r.readErrors = value("read")
                r.writeErrors = value("write")
                r.timeouts = value("timeout")
            } else if line.contains("Non-2xx or 3xx responses:") {
                r.non2xx = Int(words.last ?? "") ?? 0
            } else if words.first == "50%" {
                r.p50 = String(words.last ?? "")
            } else if words.first == "99%" {
                r.p99 = String(words.last ?? "")
            } else if words.first == "Latency", words.count >= 4, r.maxLatency.isEmpty {
                r.maxLatency = String(words[3])
            }
        }
        return r
    }

    package static var wrkBinary: String? {
        for path in ["/usr/bin/wrk", "/usr/local/bin/wrk"] where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        return nil
    }
}
