// Package radius is Lobby's RADIUS client (SPEC §7): a codec of its own
// for the packets of RFC 2865 (authentication), RFC 2866 and 2869
// (accounting), RFC 3579 (Message-Authenticator) and RFC 5176 (Dynamic
// Authorization); the Access-Request with failover between servers; the
// accounting queue, which keeps every record in the state directory until
// a server answers it; and the Dynamic Authorization Server, which checks
// Disconnect- and CoA-Requests and hands them to the session table.
//
// Of the session table's types it knows only session.Reason, for the
// Acct-Terminate-Cause of a Stop: Limits is what a reply gives (the
// sign-in method maps it to a grant), Session what accounting and the DAS
// say of a session, and Sessions the table as the DAS sees it. docs/radius.md says why the codec is Lobby's own rather
// than layeh.com/radius.
package radius
