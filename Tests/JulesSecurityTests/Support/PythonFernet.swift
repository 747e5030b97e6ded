import Foundation

/// Runs snippets under `python3` with the `cryptography` package, for interoperability tests.
///
/// Keys, tokens and plaintexts travel in environment variables, not argv, so they do not show in process listings.
enum PythonFernet {
    struct Output {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Whether `python3` is on PATH and can import `cryptography.fernet`; checked once per test run.
    static let isAvailable: Bool = {
        (try? run("import cryptography.fernet", environment: [:]).status) == 0
    }()

    static func run(_ script: String, environment: [String: String]) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Outputs here are small, so reading to the end before waiting cannot fill a pipe and deadlock.
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus,
            stdout: String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines),
            stderr: String(decoding: err, as: UTF8.self)
        )
    }
}
