import Foundation
import RAS
import RASService
import SystemIO

/// Finding, and when needed starting, the `rasmand` daemon.
enum Daemon {
    /// How long `rasdial` waits for a daemon it started (or one starting at the same time) to answer.
    static let startTimeout = Duration.seconds(10)

    /// A client of the daemon at `socketPath`, or `nil` when none answers there.
    /// - Throws: 711 when the socket exists but this user may not use it.
    static func connectIfRunning(_ socketPath: String) async throws(RasError) -> RASClient? {
        do throws(RasError) {
            return try await RASClient.connect(socketPath: socketPath, timeout: .seconds(2))
        } catch where error == .connectionManagerUnavailable {
            let files = FileManager.default
            if files.fileExists(atPath: socketPath), !files.isWritableFile(atPath: socketPath) {
                // A daemon may well be there; this user may not talk to it.
                throw RasError.connectionManagerUnavailable.with(
                    detail: "permission denied on \(socketPath) (the system daemon's socket is for root and group dialout)")
            }
            return nil
        }
    }

    /// A client of the daemon at `socketPath`. With `startIfNeeded`, a daemon is started when
    /// none answers: `rasmand --detach --socket PATH` plus `$RASMAND_OPTIONS`, found as
    /// `$RASMAND`, next to this `rasdial`, or on `PATH`, with its output appended to
    /// `<socket>.log`. Two `rasdial`s starting one at the same time are safe: the daemon's
    /// lock lets one of them bind, and both connect to it.
    /// - Throws: 711 when no daemon answers in time.
    static func connect(_ socketPath: String, startIfNeeded: Bool) async throws(RasError) -> RASClient {
        if let client = try await connectIfRunning(socketPath) { return client }
        guard startIfNeeded else {
            throw RasError.connectionManagerUnavailable.with(detail: "no rasmand answers at \(socketPath)")
        }
        let process = try start(socketPath)
        let deadline = ContinuousClock.now + startTimeout
        while ContinuousClock.now < deadline {
            if let client = try await connectIfRunning(socketPath) { return client }
            try? await Task.sleep(for: .milliseconds(20))
        }
        let exit = process.isRunning ? "still starting" : "exited with status \(process.terminationStatus)"
        throw RasError.connectionManagerUnavailable.with(
            detail: "started \(process.executableURL?.path ?? "rasmand") for \(socketPath), but it does not answer (\(exit)); see \(logPath(socketPath))")
    }

    /// Where a daemon started by `rasdial` writes its log: the socket path + `.log`.
    static func logPath(_ socketPath: String) -> String { socketPath + ".log" }

    private static func start(_ socketPath: String) throws(RasError) -> Process {
        guard let executable = Executables.locate("rasmand", override: "RASMAND") else {
            throw RasError.connectionManagerUnavailable.with(
                detail: "no rasmand answers at \(socketPath), and no rasmand executable was found ($RASMAND, next to rasdial, or on PATH)")
        }
        let environment = ProcessInfo.processInfo.environment
        let extra = (environment["RASMAND_OPTIONS"] ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
        let process = Process()
        process.executableURL = executable
        process.arguments = ["--detach", "--socket", socketPath] + extra
        process.standardInput = FileHandle.nullDevice
        let log = openLog(logPath(socketPath))
        process.standardOutput = log
        process.standardError = log
        do {
            try process.run()
        } catch {
            throw RasError.connectionManagerUnavailable.with(detail: "cannot start \(executable.path): \(error.localizedDescription)")
        }
        return process
    }

    /// The log file opened for appending (its folder made if needed, 0700), or /dev/null.
    private static func openLog(_ path: String) -> FileHandle {
        let files = FileManager.default
        let folder = (path as NSString).deletingLastPathComponent
        if !files.fileExists(atPath: folder) {
            try? files.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        // A regular file only: a FIFO there would block, a link could point anywhere.
        guard let fd = try? SafeFile.openForWriting(path, mode: 0o600, append: true) else { return FileHandle.nullDevice }
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }
}

/// The swift-ras executables `rasdial` runs.
enum Executables {
    /// `name`'s executable: `$<override>`, else the one next to this `rasdial` (symlinks
    /// resolved), else the first on `PATH`; `nil` when there is none.
    static func locate(_ name: String, override variable: String) -> URL? {
        let files = FileManager.default
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment[variable], !explicit.isEmpty {
            return files.isExecutableFile(atPath: explicit) ? URL(fileURLWithPath: explicit) : nil
        }
        var folders: [URL] = []
        if let own = Bundle.main.executableURL {
            folders.append(own.resolvingSymlinksInPath().deletingLastPathComponent())
        }
        if let first = CommandLine.arguments.first, first.contains("/") {
            folders.append(URL(fileURLWithPath: absolute(first)).resolvingSymlinksInPath().deletingLastPathComponent())
        }
        folders += (environment["PATH"] ?? "").split(separator: ":").map { URL(fileURLWithPath: String($0), isDirectory: true) }
        return folders.lazy.map { $0.appendingPathComponent(name) }.first { files.isExecutableFile(atPath: $0.path) }
    }
}
