/// What ``ConnectionManager`` tells its ``ConnectionManager/Configuration/observer`` about
/// connections, as it happens: the moments that watchers' events do not carry (when a dial
/// started, when a hang-up was asked for) and the byte counts of connections that ended.
/// `rasmand --metrics-listen` counts dials and bytes with it.
public enum RasConnectionObservation: Sendable, Equatable {
    /// A dial (or the answer of an incoming call) ended, `duration` after it started: `error`
    /// is `nil` when it reached Connected, else why it failed — 631
    /// (``RasError/userDisconnection``) when it was hung up before it had a result. Once per
    /// connection: redials within the dial and reconnects after a dropped link are not new dials.
    case dialEnded(RasConnection, error: RasError?, duration: Duration)
    /// A live connection's statistics, when asked for (``ConnectionManager/reportStatistics()``).
    case statistics(RasConnection, RasConnectionStatistics)
    /// A connection was removed (its handle is invalid from now on), with its last statistics
    /// and the time from the first hang-up request to its removal (`nil` if none was made).
    case removed(RasConnection, RasConnectionStatistics, hangUpDuration: Duration?)
}
