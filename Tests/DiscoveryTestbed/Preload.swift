import Foundation

/// Running a process under umockdev's preload library, which must be loaded before the
/// process starts (it wraps `open`, `stat`, `socket`… for every library, libudev included).
public enum Preload {
    /// The library (Debian package `libumockdev0`, pulled in by `umockdev`).
    public static let library = "libumockdev-preload.so.0"

    /// Whether this process runs under the preload library (umockdev's own test: the
    /// library is named in `LD_PRELOAD`).
    public static var isActive: Bool {
        ProcessInfo.processInfo.environment["LD_PRELOAD"]?.contains("libumockdev-preload") ?? false
    }

    /// Set in the environment of a relaunched child, so that it never relaunches again.
    static let relaunchMarker = "SWIFT_RAS_UMOCKDEV_RELAUNCHED"

    /// The environment to start a child under the preload library: `LD_PRELOAD` gets the
    /// library added in front of whatever it held.
    public static func environment(_ base: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        var environment = base
        let existing = environment["LD_PRELOAD"].map { " " + $0 } ?? ""
        environment["LD_PRELOAD"] = library + existing
        return environment
    }

    /// If this process does not run under the preload library, runs this same executable
    /// again with it (same arguments, standard streams shared) and exits with the child's
    /// status; otherwise returns. Call it first thing in `main`.
    public static func relaunchIfNeeded() throws(TestbedError) {
        guard !isActive else { return }
        guard ProcessInfo.processInfo.environment[relaunchMarker] == nil else {
            throw TestbedError("relaunched with LD_PRELOAD=\(library), but the preload library is not active")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = Array(CommandLine.arguments.dropFirst())
        var environment = environment()
        environment[relaunchMarker] = "1"
        process.environment = environment
        do {
            try process.run()
        } catch {
            throw TestbedError("cannot start \(CommandLine.arguments[0]) under \(library): \(error.localizedDescription)")
        }
        process.waitUntilExit()
        if process.terminationReason == .uncaughtSignal {
            throw TestbedError("the preloaded child died of signal \(process.terminationStatus)")
        }
        exit(process.terminationStatus)
    }
}
