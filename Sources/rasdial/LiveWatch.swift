import Foundation
import RAS
import RASService

/// `rasdial --watch` on a terminal: a table of the connections (state, rate, bytes each way,
/// the caller of an answered call) redrawn on every event and every second, with the
/// listening lines' latest events under it.
actor LiveWatch {
    /// One connection's row.
    struct Row {
        var connection: RasConnection
        var rate: Int?
        var sent = 0
        var received = 0
    }

    /// How many of the lines' events stay on screen.
    static let recentEvents = 8
    /// How often the byte counts are asked for.
    static let refresh = Duration.seconds(1)

    private let client: RASClient
    private let output: Output
    private let socketPath: String
    private var rows: [RasConnectionHandle: Row] = [:]
    private var recent: [String] = []

    init(client: RASClient, output: Output, socketPath: String) {
        self.client = client
        self.output = output
        self.socketPath = socketPath
    }

    /// Draws the table until the events end (the daemon went away) or the task is cancelled.
    func run(_ events: AsyncStream<RasWatchEvent>) async {
        for connection in (try? await client.enumConnections()) ?? [] { rows[connection.handle] = Row(connection: connection) }
        await refreshCounts()
        let ticker = Task { [weak self] in
            while !Task.isCancelled {
                do { try await Task.sleep(for: Self.refresh) } catch { return }
                await self?.refreshCounts()
            }
        }
        defer { ticker.cancel() }
        for await event in events {
            apply(event)
            draw()
        }
    }

    private func apply(_ event: RasWatchEvent) {
        switch event {
        case .connection(let change):
            if change.kind == .removed {
                rows[change.connection.handle] = nil
            } else {
                rows[change.connection.handle, default: Row(connection: change.connection)].connection = change.connection
            }
        case .listener(let report):
            recent.append(Output.lineEventText(report))
            if recent.count > Self.recentEvents { recent.removeFirst(recent.count - Self.recentEvents) }
        }
    }

    /// Asks for the counts of the connected rows, then redraws.
    private func refreshCounts() async {
        for (handle, row) in rows where row.connection.state == .connected {
            guard let statistics = try? await client.statistics(handle) else { continue }
            rows[handle]?.rate = statistics.connectRate
            rows[handle]?.sent = statistics.bytesSent
            rows[handle]?.received = statistics.bytesReceived
        }
        draw()
    }

    /// The screen: cursor home, clear, the table, the recent line events.
    private func draw() {
        var lines = ["Watching connections on \(socketPath) (Ctrl-C to stop)", ""]
        let header = ["HANDLE", "ENTRY", "DIR", "DEVICE", "STATE", "RATE", "SENT", "RECEIVED", "CALLER"]
        let body = rows.values.sorted { $0.connection.handle < $1.connection.handle }.map { row -> [String] in
            let connection = row.connection
            return [connection.handle.description, connection.entryName, connection.direction == .incoming ? "in" : "out",
                    connection.deviceName,
                    connection.state.description + (connection.error.map { " error \($0.code)" } ?? ""),
                    row.rate.map(String.init) ?? "-", "\(row.sent)", "\(row.received)",
                    connection.callerID.map(Output.caller) ?? "-"]
        }
        lines += body.isEmpty ? ["No connections"] : Output.columns([header] + body)
        if !recent.isEmpty { lines += ["", "Lines:"] + recent.map { "  " + $0 } }
        output.write("\u{1B}[H\u{1B}[2J" + lines.joined(separator: "\n"))
    }
}
