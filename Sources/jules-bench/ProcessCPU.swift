import Foundation

/// CPU time used by processes, read from /proc (Linux), so a run can say what each request cost each process.
///
/// On a machine with few cores the load generator, the server and the server's own dependencies share the CPU: the
/// time each spends per request explains a throughput, and a latency, that requests/s alone cannot.
enum ProcessCPU {
    /// Seconds of CPU (user and system) used so far by every live process whose name (`comm`) is `name`, other than
    /// this one, or `nil` where /proc cannot be read. Processes that exit take their time with them.
    static func seconds(ofProcessesNamed name: String) -> Double? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        let ownID = String(getpid())
        var ticks = 0
        for entry in entries where entry.first?.isNumber == true && entry != ownID {
            guard let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let usage = parse(stat: stat), usage.name == name
            else { continue }
            ticks += usage.ticks
        }
        return Double(ticks) / ticksPerSecond
    }

    /// Seconds of CPU used so far by this process.
    static func ownSeconds() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8), let usage = parse(stat: stat)
        else { return nil }
        return Double(usage.ticks) / ticksPerSecond
    }

    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// The name and the user + system clock ticks in one /proc/PID/stat line, whose second field is the name in
    /// parentheses (which may itself hold spaces and parentheses: the last ")" ends it).
    static func parse(stat line: String) -> (name: String, ticks: Int)? {
        guard let open = line.firstIndex(of: "("), let close = line.lastIndex(of: ")"), open < close else {
            return nil
        }
        let name = String(line[line.index(after: open)..<close])
        // After the name: state (field 3), then fields 4...; utime and stime are fields 14 and 15.
        let fields = line[line.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        return (name, user + system)
    }
}
