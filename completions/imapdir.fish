# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_imapdir_global_optspecs
    string join \n config= v/verbose trace-imap json h/help V/version
end

function __fish_imapdir_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_imapdir_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_imapdir_using_subcommand
    set -l cmd (__fish_imapdir_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c imapdir -n "__fish_imapdir_needs_command" -l config -d 'Config file [default: $XDG_CONFIG_HOME/imapdir/config.toml]' -r -F
complete -c imapdir -n "__fish_imapdir_needs_command" -s v -l verbose -d 'More output: -v per-folder actions, -vv debug details'
complete -c imapdir -n "__fish_imapdir_needs_command" -l trace-imap -d 'Print the IMAP protocol to stderr (passwords redacted)'
complete -c imapdir -n "__fish_imapdir_needs_command" -l json -d 'Print one JSON document on stdout (sync, status, folders, check); logs go to stderr'
complete -c imapdir -n "__fish_imapdir_needs_command" -s h -l help -d 'Print help'
complete -c imapdir -n "__fish_imapdir_needs_command" -s V -l version -d 'Print version'
complete -c imapdir -n "__fish_imapdir_needs_command" -f -a "sync" -d 'Synchronise accounts (all of them when none is named)'
complete -c imapdir -n "__fish_imapdir_needs_command" -f -a "folders" -d 'List remote folders and the local paths they map to'
complete -c imapdir -n "__fish_imapdir_needs_command" -f -a "check" -d 'Connect, negotiate TLS, log in and list the server\'s capabilities'
complete -c imapdir -n "__fish_imapdir_needs_command" -f -a "status" -d 'Per folder: messages synced, local changes waiting to be pushed, last sync, quota'
complete -c imapdir -n "__fish_imapdir_needs_command" -f -a "watch" -d 'Stay running: sync at start, within seconds of a change on the server (IDLE) or in the Maildir, and every `interval`; SIGTERM or Ctrl-C exits 0'
complete -c imapdir -n "__fish_imapdir_needs_command" -f -a "import" -d 'Print an imapdir config made from an mbsync or OfflineIMAP config; what cannot be mapped is listed on stderr and as comments'
complete -c imapdir -n "__fish_imapdir_needs_command" -f -a "init" -d 'Add an account to the config: asks for the address, finds the server (preset, else the domain\'s published autoconfig, else asks), the Maildir and the secret source, then runs `check`; with --yes it asks nothing'
complete -c imapdir -n "__fish_imapdir_needs_command" -f -a "providers" -d 'List the provider presets (`provider = "NAME"`): host, how to log in, what to know'
complete -c imapdir -n "__fish_imapdir_needs_command" -f -a "auth" -d 'Log in with OAuth2 once (in a browser, or with a code on another device: --device) and keep the refresh token for later runs'
complete -c imapdir -n "__fish_imapdir_needs_command" -f -a "relayout" -d 'Move a synced Maildir to the configured `layout`, folder by folder, without transferring a message'
complete -c imapdir -n "__fish_imapdir_needs_command" -f -a "approve" -d 'Let the next sync make a change a guard refused in these folders (a mass deletion, a first sync copying most of both sides, folder deletions), exactly that change; without folders, list what was refused'
complete -c imapdir -n "__fish_imapdir_needs_command" -f -a "fetch" -d 'Download whole at the next sync messages stored as placeholders (larger than `max_message_size`); flagging a placeholder does the same'
complete -c imapdir -n "__fish_imapdir_needs_command" -f -a "pop3" -d 'Download new messages from a POP3 account (`protocol = "pop3"`) into its Maildir folder, each once, then delete from the server what the account says (`leave_on_server`, `delete_after_days`); `sync` does the same for POP3 accounts'
complete -c imapdir -n "__fish_imapdir_needs_command" -f -a "sendmail" -d 'Read a message on stdin and put it in the account\'s outbox, then send the outbox at once (a message that cannot be sent now waits for the next sync): a `sendmail` for mutt, aerc and git send-email'
complete -c imapdir -n "__fish_imapdir_needs_command" -f -a "search" -d 'Search the server\'s folders (those the account syncs) without downloading anything: one line per match with folder, UID, date, sender, size, whether the Maildir has it (as of the last sync) and subject'
complete -c imapdir -n "__fish_imapdir_needs_command" -f -a "generate" -d 'Write the man pages (DIR/man) and bash, zsh and fish completions (DIR/completions)'
complete -c imapdir -n "__fish_imapdir_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c imapdir -n "__fish_imapdir_using_subcommand sync" -s j -l jobs -d 'Folders synchronised at once, one IMAP connection each [default: from config, else 4; fewer for a server on this machine]' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand sync" -l wait -d 'When another imapdir run (such as `watch`) holds the account, wait up to SECONDS (300 when not given) for it to finish, then sync; without --wait such a run exits 4 at once' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand sync" -l folder -d 'Sync only the folders this pattern names (repeatable; *, % and ! as in the folders key, the last match decides); the account\'s folders key still applies' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand sync" -l config -d 'Config file [default: $XDG_CONFIG_HOME/imapdir/config.toml]' -r -F
complete -c imapdir -n "__fish_imapdir_using_subcommand sync" -l pull -d 'Only bring server changes to the Maildir'
complete -c imapdir -n "__fish_imapdir_using_subcommand sync" -l push -d 'Only send Maildir changes to the server'
complete -c imapdir -n "__fish_imapdir_using_subcommand sync" -s n -l dry-run -d 'Print the actions a sync would take, change nothing'
complete -c imapdir -n "__fish_imapdir_using_subcommand sync" -l allow-mass-delete -d 'Let this run delete more of a folder than the guard allows (on the server max_server_delete_share, default half; locally max_local_delete_share, default 0.9), in every folder it syncs; `imapdir approve` lets through one folder\'s refused change only'
complete -c imapdir -n "__fish_imapdir_using_subcommand sync" -l allow-first-copy -d 'Let a folder\'s first sync copy both sides to each other even when few of their messages pair up (a Maildir from another tool that is not recognised would end up twice on both sides), in every folder it syncs; `imapdir approve` lets one folder\'s through'
complete -c imapdir -n "__fish_imapdir_using_subcommand sync" -s v -l verbose -d 'More output: -v per-folder actions, -vv debug details'
complete -c imapdir -n "__fish_imapdir_using_subcommand sync" -l trace-imap -d 'Print the IMAP protocol to stderr (passwords redacted)'
complete -c imapdir -n "__fish_imapdir_using_subcommand sync" -l json -d 'Print one JSON document on stdout (sync, status, folders, check); logs go to stderr'
complete -c imapdir -n "__fish_imapdir_using_subcommand sync" -s h -l help -d 'Print help'
complete -c imapdir -n "__fish_imapdir_using_subcommand folders" -l config -d 'Config file [default: $XDG_CONFIG_HOME/imapdir/config.toml]' -r -F
complete -c imapdir -n "__fish_imapdir_using_subcommand folders" -s v -l verbose -d 'More output: -v per-folder actions, -vv debug details'
complete -c imapdir -n "__fish_imapdir_using_subcommand folders" -l trace-imap -d 'Print the IMAP protocol to stderr (passwords redacted)'
complete -c imapdir -n "__fish_imapdir_using_subcommand folders" -l json -d 'Print one JSON document on stdout (sync, status, folders, check); logs go to stderr'
complete -c imapdir -n "__fish_imapdir_using_subcommand folders" -s h -l help -d 'Print help'
complete -c imapdir -n "__fish_imapdir_using_subcommand check" -l config -d 'Config file [default: $XDG_CONFIG_HOME/imapdir/config.toml]' -r -F
complete -c imapdir -n "__fish_imapdir_using_subcommand check" -s v -l verbose -d 'More output: -v per-folder actions, -vv debug details'
complete -c imapdir -n "__fish_imapdir_using_subcommand check" -l trace-imap -d 'Print the IMAP protocol to stderr (passwords redacted)'
complete -c imapdir -n "__fish_imapdir_using_subcommand check" -l json -d 'Print one JSON document on stdout (sync, status, folders, check); logs go to stderr'
complete -c imapdir -n "__fish_imapdir_using_subcommand check" -s h -l help -d 'Print help'
complete -c imapdir -n "__fish_imapdir_using_subcommand status" -l config -d 'Config file [default: $XDG_CONFIG_HOME/imapdir/config.toml]' -r -F
complete -c imapdir -n "__fish_imapdir_using_subcommand status" -l offline -d 'Use only the state and the Maildir: no connection, so no quota'
complete -c imapdir -n "__fish_imapdir_using_subcommand status" -s v -l verbose -d 'More output: -v per-folder actions, -vv debug details'
complete -c imapdir -n "__fish_imapdir_using_subcommand status" -l trace-imap -d 'Print the IMAP protocol to stderr (passwords redacted)'
complete -c imapdir -n "__fish_imapdir_using_subcommand status" -l json -d 'Print one JSON document on stdout (sync, status, folders, check); logs go to stderr'
complete -c imapdir -n "__fish_imapdir_using_subcommand status" -s h -l help -d 'Print help'
complete -c imapdir -n "__fish_imapdir_using_subcommand watch" -l config -d 'Config file [default: $XDG_CONFIG_HOME/imapdir/config.toml]' -r -F
complete -c imapdir -n "__fish_imapdir_using_subcommand watch" -s v -l verbose -d 'More output: -v per-folder actions, -vv debug details'
complete -c imapdir -n "__fish_imapdir_using_subcommand watch" -l trace-imap -d 'Print the IMAP protocol to stderr (passwords redacted)'
complete -c imapdir -n "__fish_imapdir_using_subcommand watch" -l json -d 'Print one JSON document on stdout (sync, status, folders, check); logs go to stderr'
complete -c imapdir -n "__fish_imapdir_using_subcommand watch" -s h -l help -d 'Print help'
complete -c imapdir -n "__fish_imapdir_using_subcommand import" -l config -d 'Config file [default: $XDG_CONFIG_HOME/imapdir/config.toml]' -r -F
complete -c imapdir -n "__fish_imapdir_using_subcommand import" -l write -d 'Append the accounts to imapdir\'s config file (--config, else the default), creating it when missing; refuses when an account name is already there'
complete -c imapdir -n "__fish_imapdir_using_subcommand import" -s v -l verbose -d 'More output: -v per-folder actions, -vv debug details'
complete -c imapdir -n "__fish_imapdir_using_subcommand import" -l trace-imap -d 'Print the IMAP protocol to stderr (passwords redacted)'
complete -c imapdir -n "__fish_imapdir_using_subcommand import" -l json -d 'Print one JSON document on stdout (sync, status, folders, check); logs go to stderr'
complete -c imapdir -n "__fish_imapdir_using_subcommand import" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -l email -d 'The account\'s mail address' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -l account -d 'The account\'s name in the config [default: the address\'s local part]' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -l provider -d 'A provider preset (`imapdir providers` lists them) [default: the one for the address\'s domain]' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -l host -d 'IMAP server, where no preset knows the domain; with --provider it overrides the preset\'s host, without it no preset is used' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -l port -d 'IMAP port [default: the preset\'s, else 993 for tls and 143 otherwise]' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -l tls -d 'How the connection is encrypted [default: the preset\'s, else tls]' -r -f -a "tls\t'TLS from the first byte (usually port 993)'
starttls\t'STARTTLS on a plain port (usually 143)'
plain\t'No encryption at all (writes allow_plaintext = true)'"
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -l user -d 'Login name [default: the address]' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -l ca-file -d 'A CA certificate (PEM) to trust for this server besides the system\'s' -r -F
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -l maildir -d 'The local Maildir root, created when missing [default: ~/Mail/NAME]' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -l password-command -d 'A command that prints the password (password_command)' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -l password-file -d 'A file whose first line is the password (password_file)' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -l password-env -d 'An environment variable that holds the password (password_env)' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -l oauth2-token-command -d 'A command that prints an OAuth2 access token (oauth2_token_command)' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -l config -d 'Config file [default: $XDG_CONFIG_HOME/imapdir/config.toml]' -r -F
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -s y -l yes -d 'Ask nothing: what the flags leave out is the default, or an error naming the flag'
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -l no-check -d 'Do not connect after writing the account'
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -l force -d 'Replace an account of the same name instead of refusing'
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -s v -l verbose -d 'More output: -v per-folder actions, -vv debug details'
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -l trace-imap -d 'Print the IMAP protocol to stderr (passwords redacted)'
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -l json -d 'Print one JSON document on stdout (sync, status, folders, check); logs go to stderr'
complete -c imapdir -n "__fish_imapdir_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c imapdir -n "__fish_imapdir_using_subcommand providers" -l config -d 'Config file [default: $XDG_CONFIG_HOME/imapdir/config.toml]' -r -F
complete -c imapdir -n "__fish_imapdir_using_subcommand providers" -s v -l verbose -d 'More output: -v per-folder actions, -vv debug details'
complete -c imapdir -n "__fish_imapdir_using_subcommand providers" -l trace-imap -d 'Print the IMAP protocol to stderr (passwords redacted)'
complete -c imapdir -n "__fish_imapdir_using_subcommand providers" -l json -d 'Print one JSON document on stdout (sync, status, folders, check); logs go to stderr'
complete -c imapdir -n "__fish_imapdir_using_subcommand providers" -s h -l help -d 'Print help'
complete -c imapdir -n "__fish_imapdir_using_subcommand auth" -l config -d 'Config file [default: $XDG_CONFIG_HOME/imapdir/config.toml]' -r -F
complete -c imapdir -n "__fish_imapdir_using_subcommand auth" -l device -d 'Use the device authorization grant: a code to enter on any device with a browser, for a machine without one'
complete -c imapdir -n "__fish_imapdir_using_subcommand auth" -l no-browser -d 'Do not open a browser; only print the address to open'
complete -c imapdir -n "__fish_imapdir_using_subcommand auth" -s v -l verbose -d 'More output: -v per-folder actions, -vv debug details'
complete -c imapdir -n "__fish_imapdir_using_subcommand auth" -l trace-imap -d 'Print the IMAP protocol to stderr (passwords redacted)'
complete -c imapdir -n "__fish_imapdir_using_subcommand auth" -l json -d 'Print one JSON document on stdout (sync, status, folders, check); logs go to stderr'
complete -c imapdir -n "__fish_imapdir_using_subcommand auth" -s h -l help -d 'Print help'
complete -c imapdir -n "__fish_imapdir_using_subcommand relayout" -l config -d 'Config file [default: $XDG_CONFIG_HOME/imapdir/config.toml]' -r -F
complete -c imapdir -n "__fish_imapdir_using_subcommand relayout" -l dry-run -d 'Print the moves, change nothing'
complete -c imapdir -n "__fish_imapdir_using_subcommand relayout" -s v -l verbose -d 'More output: -v per-folder actions, -vv debug details'
complete -c imapdir -n "__fish_imapdir_using_subcommand relayout" -l trace-imap -d 'Print the IMAP protocol to stderr (passwords redacted)'
complete -c imapdir -n "__fish_imapdir_using_subcommand relayout" -l json -d 'Print one JSON document on stdout (sync, status, folders, check); logs go to stderr'
complete -c imapdir -n "__fish_imapdir_using_subcommand relayout" -s h -l help -d 'Print help'
complete -c imapdir -n "__fish_imapdir_using_subcommand approve" -l config -d 'Config file [default: $XDG_CONFIG_HOME/imapdir/config.toml]' -r -F
complete -c imapdir -n "__fish_imapdir_using_subcommand approve" -s v -l verbose -d 'More output: -v per-folder actions, -vv debug details'
complete -c imapdir -n "__fish_imapdir_using_subcommand approve" -l trace-imap -d 'Print the IMAP protocol to stderr (passwords redacted)'
complete -c imapdir -n "__fish_imapdir_using_subcommand approve" -l json -d 'Print one JSON document on stdout (sync, status, folders, check); logs go to stderr'
complete -c imapdir -n "__fish_imapdir_using_subcommand approve" -s h -l help -d 'Print help'
complete -c imapdir -n "__fish_imapdir_using_subcommand fetch" -l config -d 'Config file [default: $XDG_CONFIG_HOME/imapdir/config.toml]' -r -F
complete -c imapdir -n "__fish_imapdir_using_subcommand fetch" -s v -l verbose -d 'More output: -v per-folder actions, -vv debug details'
complete -c imapdir -n "__fish_imapdir_using_subcommand fetch" -l trace-imap -d 'Print the IMAP protocol to stderr (passwords redacted)'
complete -c imapdir -n "__fish_imapdir_using_subcommand fetch" -l json -d 'Print one JSON document on stdout (sync, status, folders, check); logs go to stderr'
complete -c imapdir -n "__fish_imapdir_using_subcommand fetch" -s h -l help -d 'Print help'
complete -c imapdir -n "__fish_imapdir_using_subcommand pop3" -l config -d 'Config file [default: $XDG_CONFIG_HOME/imapdir/config.toml]' -r -F
complete -c imapdir -n "__fish_imapdir_using_subcommand pop3" -s n -l dry-run -d 'Say how many messages would be downloaded, change nothing'
complete -c imapdir -n "__fish_imapdir_using_subcommand pop3" -s v -l verbose -d 'More output: -v per-folder actions, -vv debug details'
complete -c imapdir -n "__fish_imapdir_using_subcommand pop3" -l trace-imap -d 'Print the IMAP protocol to stderr (passwords redacted)'
complete -c imapdir -n "__fish_imapdir_using_subcommand pop3" -l json -d 'Print one JSON document on stdout (sync, status, folders, check); logs go to stderr'
complete -c imapdir -n "__fish_imapdir_using_subcommand pop3" -s h -l help -d 'Print help'
complete -c imapdir -n "__fish_imapdir_using_subcommand sendmail" -s a -l account -d 'The account whose outbox takes it [default: the only account with an outbox, else the one whose user is the message\'s From]' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand sendmail" -s o -d 'Accepted for sendmail compatibility and ignored (`-oi`, `-oem`)' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand sendmail" -s f -d 'Accepted for sendmail compatibility and ignored: the sender is the message\'s From' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand sendmail" -l config -d 'Config file [default: $XDG_CONFIG_HOME/imapdir/config.toml]' -r -F
complete -c imapdir -n "__fish_imapdir_using_subcommand sendmail" -s t -d 'Recipients from the message\'s To, Cc and Bcc (as `sendmail -t`)'
complete -c imapdir -n "__fish_imapdir_using_subcommand sendmail" -l queue-only -d 'Only queue the message; the next sync sends it'
complete -c imapdir -n "__fish_imapdir_using_subcommand sendmail" -s i -d 'Accepted for sendmail compatibility and ignored (-i, -oi: a lone "." never ends the message here)'
complete -c imapdir -n "__fish_imapdir_using_subcommand sendmail" -s v -l verbose -d 'More output: -v per-folder actions, -vv debug details'
complete -c imapdir -n "__fish_imapdir_using_subcommand sendmail" -l trace-imap -d 'Print the IMAP protocol to stderr (passwords redacted)'
complete -c imapdir -n "__fish_imapdir_using_subcommand sendmail" -l json -d 'Print one JSON document on stdout (sync, status, folders, check); logs go to stderr'
complete -c imapdir -n "__fish_imapdir_using_subcommand sendmail" -s h -l help -d 'Print help'
complete -c imapdir -n "__fish_imapdir_using_subcommand search" -l imap -d 'Raw IMAP SEARCH keys instead of a query, sent as written (ASCII), e.g. \'OR FROM alice SUBJECT budget\'' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand search" -l folder -d 'Search only the folders this pattern names (repeatable; *, % and ! as in the folders key, the last match decides); the account\'s folders key still applies' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand search" -l limit -d 'Stop after N matches' -r
complete -c imapdir -n "__fish_imapdir_using_subcommand search" -l config -d 'Config file [default: $XDG_CONFIG_HOME/imapdir/config.toml]' -r -F
complete -c imapdir -n "__fish_imapdir_using_subcommand search" -l fetch -d 'Bring the matches the Maildir lacks into it as normal pairs: a placeholder is replaced by the whole message, a message outside the window is downloaded (and stays); then syncs the folders with matches, as `imapdir sync ACCOUNT --folder` would'
complete -c imapdir -n "__fish_imapdir_using_subcommand search" -s v -l verbose -d 'More output: -v per-folder actions, -vv debug details'
complete -c imapdir -n "__fish_imapdir_using_subcommand search" -l trace-imap -d 'Print the IMAP protocol to stderr (passwords redacted)'
complete -c imapdir -n "__fish_imapdir_using_subcommand search" -l json -d 'Print one JSON document on stdout (sync, status, folders, check); logs go to stderr'
complete -c imapdir -n "__fish_imapdir_using_subcommand search" -s h -l help -d 'Print help'
complete -c imapdir -n "__fish_imapdir_using_subcommand generate" -l config -d 'Config file [default: $XDG_CONFIG_HOME/imapdir/config.toml]' -r -F
complete -c imapdir -n "__fish_imapdir_using_subcommand generate" -s v -l verbose -d 'More output: -v per-folder actions, -vv debug details'
complete -c imapdir -n "__fish_imapdir_using_subcommand generate" -l trace-imap -d 'Print the IMAP protocol to stderr (passwords redacted)'
complete -c imapdir -n "__fish_imapdir_using_subcommand generate" -l json -d 'Print one JSON document on stdout (sync, status, folders, check); logs go to stderr'
complete -c imapdir -n "__fish_imapdir_using_subcommand generate" -s h -l help -d 'Print help'
complete -c imapdir -n "__fish_imapdir_using_subcommand help; and not __fish_seen_subcommand_from sync folders check status watch import init providers auth relayout approve fetch pop3 sendmail search generate help" -f -a "sync" -d 'Synchronise accounts (all of them when none is named)'
complete -c imapdir -n "__fish_imapdir_using_subcommand help; and not __fish_seen_subcommand_from sync folders check status watch import init providers auth relayout approve fetch pop3 sendmail search generate help" -f -a "folders" -d 'List remote folders and the local paths they map to'
complete -c imapdir -n "__fish_imapdir_using_subcommand help; and not __fish_seen_subcommand_from sync folders check status watch import init providers auth relayout approve fetch pop3 sendmail search generate help" -f -a "check" -d 'Connect, negotiate TLS, log in and list the server\'s capabilities'
complete -c imapdir -n "__fish_imapdir_using_subcommand help; and not __fish_seen_subcommand_from sync folders check status watch import init providers auth relayout approve fetch pop3 sendmail search generate help" -f -a "status" -d 'Per folder: messages synced, local changes waiting to be pushed, last sync, quota'
complete -c imapdir -n "__fish_imapdir_using_subcommand help; and not __fish_seen_subcommand_from sync folders check status watch import init providers auth relayout approve fetch pop3 sendmail search generate help" -f -a "watch" -d 'Stay running: sync at start, within seconds of a change on the server (IDLE) or in the Maildir, and every `interval`; SIGTERM or Ctrl-C exits 0'
complete -c imapdir -n "__fish_imapdir_using_subcommand help; and not __fish_seen_subcommand_from sync folders check status watch import init providers auth relayout approve fetch pop3 sendmail search generate help" -f -a "import" -d 'Print an imapdir config made from an mbsync or OfflineIMAP config; what cannot be mapped is listed on stderr and as comments'
complete -c imapdir -n "__fish_imapdir_using_subcommand help; and not __fish_seen_subcommand_from sync folders check status watch import init providers auth relayout approve fetch pop3 sendmail search generate help" -f -a "init" -d 'Add an account to the config: asks for the address, finds the server (preset, else the domain\'s published autoconfig, else asks), the Maildir and the secret source, then runs `check`; with --yes it asks nothing'
complete -c imapdir -n "__fish_imapdir_using_subcommand help; and not __fish_seen_subcommand_from sync folders check status watch import init providers auth relayout approve fetch pop3 sendmail search generate help" -f -a "providers" -d 'List the provider presets (`provider = "NAME"`): host, how to log in, what to know'
complete -c imapdir -n "__fish_imapdir_using_subcommand help; and not __fish_seen_subcommand_from sync folders check status watch import init providers auth relayout approve fetch pop3 sendmail search generate help" -f -a "auth" -d 'Log in with OAuth2 once (in a browser, or with a code on another device: --device) and keep the refresh token for later runs'
complete -c imapdir -n "__fish_imapdir_using_subcommand help; and not __fish_seen_subcommand_from sync folders check status watch import init providers auth relayout approve fetch pop3 sendmail search generate help" -f -a "relayout" -d 'Move a synced Maildir to the configured `layout`, folder by folder, without transferring a message'
complete -c imapdir -n "__fish_imapdir_using_subcommand help; and not __fish_seen_subcommand_from sync folders check status watch import init providers auth relayout approve fetch pop3 sendmail search generate help" -f -a "approve" -d 'Let the next sync make a change a guard refused in these folders (a mass deletion, a first sync copying most of both sides, folder deletions), exactly that change; without folders, list what was refused'
complete -c imapdir -n "__fish_imapdir_using_subcommand help; and not __fish_seen_subcommand_from sync folders check status watch import init providers auth relayout approve fetch pop3 sendmail search generate help" -f -a "fetch" -d 'Download whole at the next sync messages stored as placeholders (larger than `max_message_size`); flagging a placeholder does the same'
complete -c imapdir -n "__fish_imapdir_using_subcommand help; and not __fish_seen_subcommand_from sync folders check status watch import init providers auth relayout approve fetch pop3 sendmail search generate help" -f -a "pop3" -d 'Download new messages from a POP3 account (`protocol = "pop3"`) into its Maildir folder, each once, then delete from the server what the account says (`leave_on_server`, `delete_after_days`); `sync` does the same for POP3 accounts'
complete -c imapdir -n "__fish_imapdir_using_subcommand help; and not __fish_seen_subcommand_from sync folders check status watch import init providers auth relayout approve fetch pop3 sendmail search generate help" -f -a "sendmail" -d 'Read a message on stdin and put it in the account\'s outbox, then send the outbox at once (a message that cannot be sent now waits for the next sync): a `sendmail` for mutt, aerc and git send-email'
complete -c imapdir -n "__fish_imapdir_using_subcommand help; and not __fish_seen_subcommand_from sync folders check status watch import init providers auth relayout approve fetch pop3 sendmail search generate help" -f -a "search" -d 'Search the server\'s folders (those the account syncs) without downloading anything: one line per match with folder, UID, date, sender, size, whether the Maildir has it (as of the last sync) and subject'
complete -c imapdir -n "__fish_imapdir_using_subcommand help; and not __fish_seen_subcommand_from sync folders check status watch import init providers auth relayout approve fetch pop3 sendmail search generate help" -f -a "generate" -d 'Write the man pages (DIR/man) and bash, zsh and fish completions (DIR/completions)'
complete -c imapdir -n "__fish_imapdir_using_subcommand help; and not __fish_seen_subcommand_from sync folders check status watch import init providers auth relayout approve fetch pop3 sendmail search generate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
