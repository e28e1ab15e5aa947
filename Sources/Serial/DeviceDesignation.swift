/// How a user designates a serial device (a phonebook's `Device=` or `Port=`, `rasdial
/// --device`): by its name, in any case (`usr-56k`, `USR-56K`), by its device node
/// (`/dev/ttyACM0`), or by one of its links (`/dev/serial/by-id/…`, `/dev/modem`). The one
/// rule of swift-ras: discovery's table, the scanner's records and the RAS device list all
/// answer through it.
public enum DeviceDesignation {
    /// Whether `designation` names the device called `name` whose node is `path` and whose
    /// links are `links`. An empty designation names nothing.
    public static func matches(_ designation: String, name: String, path: String, links: [String]) -> Bool {
        guard !designation.isEmpty else { return false }
        return name.lowercased() == designation.lowercased() || path == designation || links.contains(designation)
    }
}
