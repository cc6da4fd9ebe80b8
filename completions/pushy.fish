# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_pushy_global_optspecs
    string join \n t/tty path= p/port= l/login= i/identity= F/ssh-config= J/jump= o/option= python= connect-timeout= persist= no-reuse sudo become= inventory= limit= v/verbose color= generate= complete-hosts h/help V/version
end

function __fish_pushy_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_pushy_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_pushy_using_subcommand
    set -l cmd (__fish_pushy_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c pushy -n "__fish_pushy_needs_command" -l path -d 'Serve modules, packages and their data files from DIR to imports on the host that it cannot satisfy itself (after the script\'s directory for `run`, the current one otherwise); may be repeated; PUSHY_PATH adds more (colon-separated)' -r -f -a "(__fish_complete_directories)"
complete -c pushy -n "__fish_pushy_needs_command" -s p -l port -d 'Port to connect to on the host (ssh -p)' -r
complete -c pushy -n "__fish_pushy_needs_command" -s l -l login -d 'User to log in as (ssh -l)' -r
complete -c pushy -n "__fish_pushy_needs_command" -s i -l identity -d 'Identity (private key) file (ssh -i); may be repeated' -r -F
complete -c pushy -n "__fish_pushy_needs_command" -s F -l ssh-config -d 'ssh configuration file (ssh -F)' -r -F
complete -c pushy -n "__fish_pushy_needs_command" -s J -l jump -d 'Jump host(s) to connect through (ssh -J)' -r
complete -c pushy -n "__fish_pushy_needs_command" -s o -l option -d 'An ssh option, as in ssh_config (ssh -o); may be repeated' -r
complete -c pushy -n "__fish_pushy_needs_command" -l python -d 'The remote Python interpreter [default: python3, else python if it is Python 3]' -r
complete -c pushy -n "__fish_pushy_needs_command" -l connect-timeout -d 'Give up connecting after this many seconds (ssh ConnectTimeout)' -r
complete -c pushy -n "__fish_pushy_needs_command" -l persist -d 'Keep the ssh connection open this long after use, for the next call' -r
complete -c pushy -n "__fish_pushy_needs_command" -l become -d 'Run the remote interpreter as USER, through sudo' -r
complete -c pushy -n "__fish_pushy_needs_command" -l inventory -d 'An Ansible inventory (INI, YAML, a directory, an executable dynamic inventory; plugin configs through ansible-inventory): HOST is then a pattern, as Ansible\'s (`web:&prod`, `all:!db`, `~web0[12]`, `web[0:2]`)' -r -F
complete -c pushy -n "__fish_pushy_needs_command" -l limit -d 'With --inventory: only the hosts this pattern also selects, as Ansible\'s --limit' -r
complete -c pushy -n "__fish_pushy_needs_command" -l color -d 'Colour: auto (when writing to a terminal and NO_COLOR is unset), always, never' -r -f -a "auto\t'When the stream is a terminal and NO_COLOR is unset'
always\t'Always'
never\t'Never'"
complete -c pushy -n "__fish_pushy_needs_command" -l generate -d 'Render completions or the man page (for packaging)' -r -f -a "bash\t'bash completions'
zsh\t'zsh completions'
fish\t'fish completions'
man\t'the man page (roff)'"
complete -c pushy -n "__fish_pushy_needs_command" -s t -l tty -d 'In the REPL, run each input on a pseudo-terminal on the host, as `ssh -t`: full-screen programs (`os.system("top")`, curses) work, and keys typed while an input runs go to it'
complete -c pushy -n "__fish_pushy_needs_command" -l no-reuse -d 'Use a fresh ssh connection and close it afterwards'
complete -c pushy -n "__fish_pushy_needs_command" -l sudo -d 'Run the remote interpreter as root, through sudo (asks for a password if sudo wants one)'
complete -c pushy -n "__fish_pushy_needs_command" -s v -l verbose -d 'Say which interpreter ran, as whom, and which local modules and files were sent, on stderr'
complete -c pushy -n "__fish_pushy_needs_command" -l complete-hosts -d 'For the shell completions: print host names to offer (`local:`, ssh config and known_hosts hosts, and with --inventory its groups and hosts), one a line'
complete -c pushy -n "__fish_pushy_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pushy -n "__fish_pushy_needs_command" -s V -l version -d 'Print version'
complete -c pushy -n "__fish_pushy_needs_command" -a "exec" -d 'Evaluate code on a host and print the value of its last expression'
complete -c pushy -n "__fish_pushy_needs_command" -a "run" -d 'Run a local Python script on a host, as `__main__`, with arguments'
complete -c pushy -n "__fish_pushy_needs_command" -a "disconnect" -d 'Stop the ssh connections kept for reuse with these hosts, now'
complete -c pushy -n "__fish_pushy_needs_command" -a "cp" -d 'Copy files between this machine and a host (or many), as scp does, over pushy\'s connection'
complete -c pushy -n "__fish_pushy_needs_command" -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c pushy -n "__fish_pushy_using_subcommand exec" -s f -l file -d 'Read the code from a file' -r -F
complete -c pushy -n "__fish_pushy_using_subcommand exec" -l timeout -d 'Interrupt the code after this many seconds (exit 124)' -r
complete -c pushy -n "__fish_pushy_using_subcommand exec" -l path -d 'Serve modules, packages and their data files from DIR to imports on the host that it cannot satisfy itself (after the script\'s directory for `run`, the current one otherwise); may be repeated; PUSHY_PATH adds more (colon-separated)' -r -f -a "(__fish_complete_directories)"
complete -c pushy -n "__fish_pushy_using_subcommand exec" -l forks -d 'With many hosts: how many run at once' -r
complete -c pushy -n "__fish_pushy_using_subcommand exec" -l failed -d 'With many hosts: write the hosts that did not end well (unreachable, raised, timed out, exited non-zero, falsy with --test) to FILE, one a line, for a retry with @FILE' -r -F
complete -c pushy -n "__fish_pushy_using_subcommand exec" -s p -l port -d 'Port to connect to on the host (ssh -p)' -r
complete -c pushy -n "__fish_pushy_using_subcommand exec" -s l -l login -d 'User to log in as (ssh -l)' -r
complete -c pushy -n "__fish_pushy_using_subcommand exec" -s i -l identity -d 'Identity (private key) file (ssh -i); may be repeated' -r -F
complete -c pushy -n "__fish_pushy_using_subcommand exec" -s F -l ssh-config -d 'ssh configuration file (ssh -F)' -r -F
complete -c pushy -n "__fish_pushy_using_subcommand exec" -s J -l jump -d 'Jump host(s) to connect through (ssh -J)' -r
complete -c pushy -n "__fish_pushy_using_subcommand exec" -s o -l option -d 'An ssh option, as in ssh_config (ssh -o); may be repeated' -r
complete -c pushy -n "__fish_pushy_using_subcommand exec" -l python -d 'The remote Python interpreter [default: python3, else python if it is Python 3]' -r
complete -c pushy -n "__fish_pushy_using_subcommand exec" -l connect-timeout -d 'Give up connecting after this many seconds (ssh ConnectTimeout)' -r
complete -c pushy -n "__fish_pushy_using_subcommand exec" -l persist -d 'Keep the ssh connection open this long after use, for the next call' -r
complete -c pushy -n "__fish_pushy_using_subcommand exec" -l become -d 'Run the remote interpreter as USER, through sudo' -r
complete -c pushy -n "__fish_pushy_using_subcommand exec" -l inventory -d 'An Ansible inventory (INI, YAML, a directory, an executable dynamic inventory; plugin configs through ansible-inventory): HOST is then a pattern, as Ansible\'s (`web:&prod`, `all:!db`, `~web0[12]`, `web[0:2]`)' -r -F
complete -c pushy -n "__fish_pushy_using_subcommand exec" -l limit -d 'With --inventory: only the hosts this pattern also selects, as Ansible\'s --limit' -r
complete -c pushy -n "__fish_pushy_using_subcommand exec" -l color -d 'Colour: auto (when writing to a terminal and NO_COLOR is unset), always, never' -r -f -a "auto\t'When the stream is a terminal and NO_COLOR is unset'
always\t'Always'
never\t'Never'"
complete -c pushy -n "__fish_pushy_using_subcommand exec" -l list-hosts -d 'Print the hosts HOST selects, one a line, and connect to none (as Ansible\'s --list-hosts)'
complete -c pushy -n "__fish_pushy_using_subcommand exec" -l json -d 'Print values as JSON (JSON Lines for streamed items); stdout carries only JSON, remote output goes to stderr; see the man page for the format'
complete -c pushy -n "__fish_pushy_using_subcommand exec" -l raw -d 'Print text as is, bytes as bytes, and one item per line: for pipelines'
complete -c pushy -n "__fish_pushy_using_subcommand exec" -s 0 -l null -d 'With --raw (implied): end every item with NUL instead of a newline, for `xargs -0`'
complete -c pushy -n "__fish_pushy_using_subcommand exec" -l test -d 'Print nothing; exit 0 if the value is truthy, 1 if falsy'
complete -c pushy -n "__fish_pushy_using_subcommand exec" -s t -l tty -d 'Give the code a pseudo-terminal on the host, as `ssh -t`: keys go to it as typed, curses and pagers work, window size changes follow. One host only. Without a local terminal, pushy says so and runs the code without one, as `ssh -t` does'
complete -c pushy -n "__fish_pushy_using_subcommand exec" -l collapse -d 'With many hosts: print identical results once, naming all their hosts'
complete -c pushy -n "__fish_pushy_using_subcommand exec" -l ordered -d 'With many hosts: print in the order given, not as hosts finish'
complete -c pushy -n "__fish_pushy_using_subcommand exec" -s q -l quiet -d 'With many hosts: no progress line and no summary on the terminal'
complete -c pushy -n "__fish_pushy_using_subcommand exec" -l no-reuse -d 'Use a fresh ssh connection and close it afterwards'
complete -c pushy -n "__fish_pushy_using_subcommand exec" -l sudo -d 'Run the remote interpreter as root, through sudo (asks for a password if sudo wants one)'
complete -c pushy -n "__fish_pushy_using_subcommand exec" -s v -l verbose -d 'Say which interpreter ran, as whom, and which local modules and files were sent, on stderr'
complete -c pushy -n "__fish_pushy_using_subcommand exec" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pushy -n "__fish_pushy_using_subcommand run" -l timeout -d 'Interrupt the script after this many seconds (exit 124)' -r
complete -c pushy -n "__fish_pushy_using_subcommand run" -l path -d 'Serve modules, packages and their data files from DIR to imports on the host that it cannot satisfy itself (after the script\'s directory for `run`, the current one otherwise); may be repeated; PUSHY_PATH adds more (colon-separated)' -r -f -a "(__fish_complete_directories)"
complete -c pushy -n "__fish_pushy_using_subcommand run" -l forks -d 'With many hosts: how many run at once' -r
complete -c pushy -n "__fish_pushy_using_subcommand run" -l failed -d 'With many hosts: write the hosts that did not end well (unreachable, raised, timed out, exited non-zero, falsy with --test) to FILE, one a line, for a retry with @FILE' -r -F
complete -c pushy -n "__fish_pushy_using_subcommand run" -s p -l port -d 'Port to connect to on the host (ssh -p)' -r
complete -c pushy -n "__fish_pushy_using_subcommand run" -s l -l login -d 'User to log in as (ssh -l)' -r
complete -c pushy -n "__fish_pushy_using_subcommand run" -s i -l identity -d 'Identity (private key) file (ssh -i); may be repeated' -r -F
complete -c pushy -n "__fish_pushy_using_subcommand run" -s F -l ssh-config -d 'ssh configuration file (ssh -F)' -r -F
complete -c pushy -n "__fish_pushy_using_subcommand run" -s J -l jump -d 'Jump host(s) to connect through (ssh -J)' -r
complete -c pushy -n "__fish_pushy_using_subcommand run" -s o -l option -d 'An ssh option, as in ssh_config (ssh -o); may be repeated' -r
complete -c pushy -n "__fish_pushy_using_subcommand run" -l python -d 'The remote Python interpreter [default: python3, else python if it is Python 3]' -r
complete -c pushy -n "__fish_pushy_using_subcommand run" -l connect-timeout -d 'Give up connecting after this many seconds (ssh ConnectTimeout)' -r
complete -c pushy -n "__fish_pushy_using_subcommand run" -l persist -d 'Keep the ssh connection open this long after use, for the next call' -r
complete -c pushy -n "__fish_pushy_using_subcommand run" -l become -d 'Run the remote interpreter as USER, through sudo' -r
complete -c pushy -n "__fish_pushy_using_subcommand run" -l inventory -d 'An Ansible inventory (INI, YAML, a directory, an executable dynamic inventory; plugin configs through ansible-inventory): HOST is then a pattern, as Ansible\'s (`web:&prod`, `all:!db`, `~web0[12]`, `web[0:2]`)' -r -F
complete -c pushy -n "__fish_pushy_using_subcommand run" -l limit -d 'With --inventory: only the hosts this pattern also selects, as Ansible\'s --limit' -r
complete -c pushy -n "__fish_pushy_using_subcommand run" -l color -d 'Colour: auto (when writing to a terminal and NO_COLOR is unset), always, never' -r -f -a "auto\t'When the stream is a terminal and NO_COLOR is unset'
always\t'Always'
never\t'Never'"
complete -c pushy -n "__fish_pushy_using_subcommand run" -l collapse -d 'With many hosts: print identical results once, naming all their hosts'
complete -c pushy -n "__fish_pushy_using_subcommand run" -l ordered -d 'With many hosts: print in the order given, not as hosts finish'
complete -c pushy -n "__fish_pushy_using_subcommand run" -s q -l quiet -d 'With many hosts: no progress line and no summary on the terminal'
complete -c pushy -n "__fish_pushy_using_subcommand run" -l no-reuse -d 'Use a fresh ssh connection and close it afterwards'
complete -c pushy -n "__fish_pushy_using_subcommand run" -l sudo -d 'Run the remote interpreter as root, through sudo (asks for a password if sudo wants one)'
complete -c pushy -n "__fish_pushy_using_subcommand run" -s v -l verbose -d 'Say which interpreter ran, as whom, and which local modules and files were sent, on stderr'
complete -c pushy -n "__fish_pushy_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pushy -n "__fish_pushy_using_subcommand disconnect" -s p -l port -d 'Port to connect to on the host (ssh -p)' -r
complete -c pushy -n "__fish_pushy_using_subcommand disconnect" -s l -l login -d 'User to log in as (ssh -l)' -r
complete -c pushy -n "__fish_pushy_using_subcommand disconnect" -s i -l identity -d 'Identity (private key) file (ssh -i); may be repeated' -r -F
complete -c pushy -n "__fish_pushy_using_subcommand disconnect" -s F -l ssh-config -d 'ssh configuration file (ssh -F)' -r -F
complete -c pushy -n "__fish_pushy_using_subcommand disconnect" -s J -l jump -d 'Jump host(s) to connect through (ssh -J)' -r
complete -c pushy -n "__fish_pushy_using_subcommand disconnect" -s o -l option -d 'An ssh option, as in ssh_config (ssh -o); may be repeated' -r
complete -c pushy -n "__fish_pushy_using_subcommand disconnect" -l python -d 'The remote Python interpreter [default: python3, else python if it is Python 3]' -r
complete -c pushy -n "__fish_pushy_using_subcommand disconnect" -l connect-timeout -d 'Give up connecting after this many seconds (ssh ConnectTimeout)' -r
complete -c pushy -n "__fish_pushy_using_subcommand disconnect" -l persist -d 'Keep the ssh connection open this long after use, for the next call' -r
complete -c pushy -n "__fish_pushy_using_subcommand disconnect" -l become -d 'Run the remote interpreter as USER, through sudo' -r
complete -c pushy -n "__fish_pushy_using_subcommand disconnect" -l inventory -d 'An Ansible inventory (INI, YAML, a directory, an executable dynamic inventory; plugin configs through ansible-inventory): HOST is then a pattern, as Ansible\'s (`web:&prod`, `all:!db`, `~web0[12]`, `web[0:2]`)' -r -F
complete -c pushy -n "__fish_pushy_using_subcommand disconnect" -l limit -d 'With --inventory: only the hosts this pattern also selects, as Ansible\'s --limit' -r
complete -c pushy -n "__fish_pushy_using_subcommand disconnect" -l color -d 'Colour: auto (when writing to a terminal and NO_COLOR is unset), always, never' -r -f -a "auto\t'When the stream is a terminal and NO_COLOR is unset'
always\t'Always'
never\t'Never'"
complete -c pushy -n "__fish_pushy_using_subcommand disconnect" -l no-reuse -d 'Use a fresh ssh connection and close it afterwards'
complete -c pushy -n "__fish_pushy_using_subcommand disconnect" -l sudo -d 'Run the remote interpreter as root, through sudo (asks for a password if sudo wants one)'
complete -c pushy -n "__fish_pushy_using_subcommand disconnect" -s v -l verbose -d 'Say which interpreter ran, as whom, and which local modules and files were sent, on stderr'
complete -c pushy -n "__fish_pushy_using_subcommand disconnect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pushy -n "__fish_pushy_using_subcommand cp" -s p -l port -d 'Port to connect to on the host (ssh -p)' -r
complete -c pushy -n "__fish_pushy_using_subcommand cp" -s l -l login -d 'User to log in as (ssh -l)' -r
complete -c pushy -n "__fish_pushy_using_subcommand cp" -s i -l identity -d 'Identity (private key) file (ssh -i); may be repeated' -r -F
complete -c pushy -n "__fish_pushy_using_subcommand cp" -s F -l ssh-config -d 'ssh configuration file (ssh -F)' -r -F
complete -c pushy -n "__fish_pushy_using_subcommand cp" -s J -l jump -d 'Jump host(s) to connect through (ssh -J)' -r
complete -c pushy -n "__fish_pushy_using_subcommand cp" -s o -l option -d 'An ssh option, as in ssh_config (ssh -o); may be repeated' -r
complete -c pushy -n "__fish_pushy_using_subcommand cp" -l python -d 'The remote Python interpreter [default: python3, else python if it is Python 3]' -r
complete -c pushy -n "__fish_pushy_using_subcommand cp" -l connect-timeout -d 'Give up connecting after this many seconds (ssh ConnectTimeout)' -r
complete -c pushy -n "__fish_pushy_using_subcommand cp" -l persist -d 'Keep the ssh connection open this long after use, for the next call' -r
complete -c pushy -n "__fish_pushy_using_subcommand cp" -l become -d 'Run the remote interpreter as USER, through sudo' -r
complete -c pushy -n "__fish_pushy_using_subcommand cp" -l inventory -d 'An Ansible inventory (INI, YAML, a directory, an executable dynamic inventory; plugin configs through ansible-inventory): HOST is then a pattern, as Ansible\'s (`web:&prod`, `all:!db`, `~web0[12]`, `web[0:2]`)' -r -F
complete -c pushy -n "__fish_pushy_using_subcommand cp" -l limit -d 'With --inventory: only the hosts this pattern also selects, as Ansible\'s --limit' -r
complete -c pushy -n "__fish_pushy_using_subcommand cp" -l color -d 'Colour: auto (when writing to a terminal and NO_COLOR is unset), always, never' -r -f -a "auto\t'When the stream is a terminal and NO_COLOR is unset'
always\t'Always'
never\t'Never'"
complete -c pushy -n "__fish_pushy_using_subcommand cp" -s r -l recursive -d 'Copy directories recursively'
complete -c pushy -n "__fish_pushy_using_subcommand cp" -s P -l preserve -d 'Keep every mode bit (setuid, setgid, sticky; no umask) and the times, as scp -p'
complete -c pushy -n "__fish_pushy_using_subcommand cp" -s q -l quiet -d 'No progress bar'
complete -c pushy -n "__fish_pushy_using_subcommand cp" -l no-reuse -d 'Use a fresh ssh connection and close it afterwards'
complete -c pushy -n "__fish_pushy_using_subcommand cp" -l sudo -d 'Run the remote interpreter as root, through sudo (asks for a password if sudo wants one)'
complete -c pushy -n "__fish_pushy_using_subcommand cp" -s v -l verbose -d 'Say which interpreter ran, as whom, and which local modules and files were sent, on stderr'
complete -c pushy -n "__fish_pushy_using_subcommand cp" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c pushy -n "__fish_pushy_using_subcommand help; and not __fish_seen_subcommand_from exec run disconnect cp help" -f -a "exec" -d 'Evaluate code on a host and print the value of its last expression'
complete -c pushy -n "__fish_pushy_using_subcommand help; and not __fish_seen_subcommand_from exec run disconnect cp help" -f -a "run" -d 'Run a local Python script on a host, as `__main__`, with arguments'
complete -c pushy -n "__fish_pushy_using_subcommand help; and not __fish_seen_subcommand_from exec run disconnect cp help" -f -a "disconnect" -d 'Stop the ssh connections kept for reuse with these hosts, now'
complete -c pushy -n "__fish_pushy_using_subcommand help; and not __fish_seen_subcommand_from exec run disconnect cp help" -f -a "cp" -d 'Copy files between this machine and a host (or many), as scp does, over pushy\'s connection'
complete -c pushy -n "__fish_pushy_using_subcommand help; and not __fish_seen_subcommand_from exec run disconnect cp help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'

function __fish_pushy_hosts
    set -l tokens (commandline -opc)
    set -l args
    for i in (seq (count $tokens))
        if contains -- $tokens[$i] --inventory -F --ssh-config; and test $i -lt (count $tokens)
            set -a args $tokens[$i] $tokens[(math $i + 1)]
        end
    end
    pushy --complete-hosts $args 2>/dev/null
end
complete -c pushy -n "__fish_pushy_needs_command" -f -a "(__fish_print_hostnames) (__fish_pushy_hosts)"
complete -c pushy -n "__fish_pushy_using_subcommand exec" -f -a "(__fish_print_hostnames) (__fish_pushy_hosts)"
