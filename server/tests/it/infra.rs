//! The deployment files (infra/docker, infra/compose, infra/k8s and
//! .dockerignore) checked against the code they deploy. No container engine
//! or cluster runs here, so instead of being run they are parsed, and every
//! file, port, variable, flag and path they name is looked up in what exists:
//! the server's command line as clap defines it (`Config`, `SeedArgs`,
//! `ReconcileArgs`, held against the real binary's `--help`), its route
//! table, its request deadline, the repository's files. The health check the
//! image and compose run is executed against a live server.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use clap::{Args, Command};
use paypulse_server::config::Config;
use paypulse_server::health::CheckArgs;
use paypulse_server::reconcile::ReconcileArgs;
use paypulse_server::routes::{Needs, catalogue};
use paypulse_server::seed::SeedArgs;
use yaml_rust2::{Yaml, YamlLoader};

use crate::common::TestApp;
use crate::process::free_port;

/// Variables the server reads that are not clap arguments: `RUST_LOG`, the
/// log filter `main.rs` gives tracing-subscriber (checked below to still be
/// read there).
const OTHER_VARIABLES: [&str; 1] = ["RUST_LOG"];

// ---------------------------------------------------------------------------
// What exists: the repository, the server's command line and routes.

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the server crate is in the workspace")
        .to_path_buf()
}

fn read(path: &str) -> String {
    let full = repository().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|error| panic!("reading {}: {error}", full.display()))
}

/// The server's command line as `main.rs` builds it: each subcommand with
/// the clap `Args` type it flattens (held against the binary by
/// `the_command_line_model_is_the_binarys`).
fn server_cli() -> Command {
    Command::new("paypulse-server")
        .subcommand_required(true)
        .subcommand(Config::augment_args(Command::new("serve")))
        .subcommand(SeedArgs::augment_args(Command::new("seed")))
        .subcommand(ReconcileArgs::augment_args(Command::new("reconcile")))
        .subcommand(CheckArgs::augment_args(Command::new("healthcheck")))
}

/// The environment variables `subcommand` reads, from its clap arguments.
fn variables_of(subcommand: &str) -> BTreeSet<String> {
    let cli = server_cli();
    let command = cli
        .find_subcommand(subcommand)
        .unwrap_or_else(|| panic!("paypulse-server has no subcommand {subcommand}"));
    command
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .collect()
}

/// Whether `subcommand` accepts `name=value` from the environment: the
/// variable is one of its arguments' (or the log filter) and the value
/// parses as that argument's type (each piece, for a delimited list).
fn check_variable(subcommand: &str, name: &str, value: &str) -> Result<(), String> {
    if OTHER_VARIABLES.contains(&name) {
        return Ok(());
    }
    let cli = server_cli();
    let command = cli.find_subcommand(subcommand).expect("a known subcommand");
    let Some(arg) = command
        .get_arguments()
        .find(|arg| arg.get_env() == Some(OsStr::new(name)))
    else {
        return Err(format!("`paypulse-server {subcommand}` reads no variable {name}"));
    };
    // A flag read from the environment takes `true` or `false` (clap's
    // boolean parser); any other argument's value is parsed as if given on
    // the command line, by a command of that argument alone.
    if !arg.get_action().takes_values() {
        return match value {
            "true" | "false" => Ok(()),
            _ => Err(format!("{name}={value}: a flag takes true or false")),
        };
    }
    let long = arg
        .get_long()
        .expect("every argument read from the environment has a long flag");
    Command::new("check")
        .arg(arg.clone())
        .try_get_matches_from(["check".to_owned(), format!("--{long}={value}")])
        .map(drop)
        .map_err(|error| format!("{name}={value}: {}", error.kind()))
}

/// The subcommand `args` (a container's arguments) run, if clap accepts them.
fn parse_arguments(args: &[String]) -> Result<String, String> {
    let matches = matches_of(args)?;
    Ok(matches.subcommand_name().expect("a subcommand is required").to_owned())
}

/// `args` (a container's arguments) as clap parses them.
fn matches_of(args: &[String]) -> Result<clap::ArgMatches, String> {
    server_cli()
        .try_get_matches_from(std::iter::once("paypulse-server".to_owned()).chain(args.iter().cloned()))
        .map_err(|error| format!("`paypulse-server {}`: {}", args.join(" "), error.kind()))
}

/// Paths a probe may use: GET endpoints that need no credential.
fn probe_paths() -> BTreeSet<String> {
    catalogue()
        .into_iter()
        .filter(|endpoint| endpoint.method == axum::http::Method::GET && endpoint.needs == Needs::Nothing)
        .map(|endpoint| endpoint.path)
        .collect()
}

fn routed(path: &str) -> bool {
    catalogue().iter().any(|endpoint| endpoint.path == path)
}

/// The probe a health check's arguments (`healthcheck [--path …]`) request.
fn health_check_path(args: &[String]) -> Result<String, String> {
    let matches = matches_of(args)?;
    let check = matches
        .subcommand_matches("healthcheck")
        .ok_or_else(|| format!("`paypulse-server {}` is not the health check", args.join(" ")))?;
    Ok(check.get_one::<String>("path").cloned().unwrap_or_default())
}

// ---------------------------------------------------------------------------
// The Dockerfile and .dockerignore.

/// One instruction of a Dockerfile, continuation lines joined.
struct Instruction {
    keyword: String,
    rest: String,
}

fn dockerfile() -> Vec<Instruction> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in read("infra/docker/server.Dockerfile").lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(continued) => {
                current.push_str(continued);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (keyword, rest) = current.split_once(char::is_whitespace).unwrap_or((&current, ""));
                instructions.push(Instruction {
                    keyword: keyword.to_ascii_uppercase(),
                    rest: rest.trim().to_owned(),
                });
                current.clear();
            }
        }
    }
    instructions
}

fn instructions<'a>(all: &'a [Instruction], keyword: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    all.iter()
        .filter(move |instruction| instruction.keyword == keyword)
        .map(|instruction| instruction.rest.as_str())
}

/// `KEY=value` pairs of the ENV instructions.
fn dockerfile_env(all: &[Instruction]) -> BTreeMap<String, String> {
    instructions(all, "ENV")
        .flat_map(str::split_whitespace)
        .map(|pair| {
            let (key, value) = pair.split_once('=').expect("ENV in KEY=value form");
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

/// The JSON-array form of an instruction (`CMD ["serve"]`).
fn exec_form(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("not a JSON array: {text}: {error}"))
}

/// The HEALTHCHECK's command (`CMD [...]` after its options).
fn image_health_check(all: &[Instruction]) -> Vec<String> {
    let healthcheck = instructions(all, "HEALTHCHECK").next().expect("a HEALTHCHECK");
    let command = healthcheck.split_once("CMD ").expect("HEALTHCHECK ... CMD [...]").1;
    exec_form(command)
}

/// Whether .dockerignore leaves `path` (relative to the context) out. Only
/// the forms the file uses are understood; anything else fails the test
/// rather than being misread.
fn docker_ignored(path: &str) -> bool {
    read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .any(|pattern| {
            if let Some(extension) = pattern.strip_prefix("*.") {
                // Docker's `*.log` matches in the context's root only.
                return !path.contains('/') && path.ends_with(&format!(".{extension}"));
            }
            assert!(
                !pattern.contains(['*', '?', '[', '!']),
                ".dockerignore pattern {pattern:?} is beyond what this test understands; teach it"
            );
            path == pattern || path.starts_with(&format!("{pattern}/"))
        })
}

/// The workspace members, from the root manifest.
fn workspace_members() -> Vec<String> {
    let manifest = read("Cargo.toml");
    let list = manifest
        .lines()
        .find_map(|line| line.trim().strip_prefix("members = "))
        .expect("the root manifest lists its members");
    list.trim_matches(['[', ']'])
        .split(',')
        .map(|member| member.trim().trim_matches('"').to_owned())
        .filter(|member| !member.is_empty())
        .collect()
}

/// The Dockerfile's problems, each in words.
fn dockerfile_problems() -> Vec<String> {
    let all = dockerfile();
    let mut problems = Vec::new();
    // What the build stage reads from the context: each COPY source, and for
    // `COPY . .` what the build needs of it (every member's manifest, the
    // lock, the `cargo xtask` alias, the dashboard's static files).
    for copy in instructions(&all, "COPY").filter(|copy| !copy.starts_with("--from")) {
        let parts: Vec<&str> = copy.split_whitespace().filter(|part| !part.starts_with("--")).collect();
        for source in &parts[..parts.len() - 1] {
            if !repository().join(source).exists() {
                problems.push(format!("COPY source {source} does not exist"));
            }
        }
    }
    let mut needed: Vec<String> = vec![
        "Cargo.toml".into(),
        "Cargo.lock".into(),
        ".cargo/config.toml".into(),
        "ui/index.html".into(),
        "ui/style.css".into(),
    ];
    needed.extend(
        workspace_members()
            .into_iter()
            .map(|member| format!("{member}/Cargo.toml")),
    );
    needed.extend(workspace_members().into_iter().map(|member| format!("{member}/src")));
    for path in needed {
        if !repository().join(&path).exists() {
            problems.push(format!("the build needs {path}, which does not exist"));
        } else if docker_ignored(&path) {
            problems.push(format!("the build needs {path}, which .dockerignore leaves out"));
        }
    }
    // The runtime stage: ENV names real variables with values that parse.
    let env = dockerfile_env(&all);
    for (name, value) in &env {
        if let Err(problem) = check_variable("serve", name, value) {
            problems.push(format!("Dockerfile ENV: {problem}"));
        }
    }
    // The dashboard is copied where UI_DIST says, from what `cargo xtask ui`
    // wrote (ui/dist, the default UI_DIST relative to the repository).
    let ui_dist = env.get("UI_DIST").cloned().unwrap_or_default();
    let dashboard_copied = instructions(&all, "COPY").any(|copy| copy.ends_with(&format!("/out/ui {ui_dist}")));
    if !dashboard_copied {
        problems.push(format!("no COPY puts the dashboard (/out/ui) at UI_DIST={ui_dist}"));
    }
    if !instructions(&all, "RUN").any(|run| run.contains("cargo xtask ui") && run.contains("cp -r ui/dist /out/ui")) {
        problems.push("the build stage does not copy `cargo xtask ui`'s ui/dist to /out/ui".into());
    }
    let default_ui_dist = server_cli()
        .find_subcommand("serve")
        .and_then(|serve| serve.get_arguments().find(|arg| arg.get_id() == "ui_dist"))
        .and_then(|arg| {
            arg.get_default_values()
                .first()
                .map(|value| value.to_string_lossy().into_owned())
        });
    if default_ui_dist.as_deref() != Some("ui/dist") {
        problems.push(format!(
            "UI_DIST's default is {default_ui_dist:?}, not ui/dist where the build writes"
        ));
    }
    // The port it listens on is the one exposed.
    let exposed: Vec<&str> = instructions(&all, "EXPOSE").collect();
    if exposed != [env.get("PORT").map_or("", String::as_str)] {
        problems.push(format!("EXPOSE {exposed:?} is not PORT={:?}", env.get("PORT")));
    }
    // The entry point is the binary copied in, and the default command parses.
    let entrypoint = exec_form(instructions(&all, "ENTRYPOINT").next().unwrap_or("[]"));
    let binary_copied = instructions(&all, "COPY").any(|copy| copy.ends_with(&format!(" {}", entrypoint[0])));
    if !binary_copied {
        problems.push(format!("ENTRYPOINT {entrypoint:?} is not a copied file"));
    }
    let command = exec_form(instructions(&all, "CMD").next().unwrap_or("[]"));
    if let Err(problem) = parse_arguments(&command) {
        problems.push(format!("CMD: {problem}"));
    }
    // The health check is the binary's `healthcheck`, asking for a probe
    // the server routes, on the PORT `serve` listens on.
    let check = image_health_check(&all);
    if check.first() != entrypoint.first() {
        problems.push(format!("HEALTHCHECK {check:?} does not run the binary {entrypoint:?}"));
    }
    match health_check_path(&check[1..]) {
        Ok(path) if probe_paths().contains(&path) => {}
        other => problems.push(format!("HEALTHCHECK requests {other:?}, not a probe of the server")),
    }
    if !variables_of("healthcheck").contains("PORT") {
        problems.push("`paypulse-server healthcheck` does not read PORT".into());
    }
    problems
}

#[test]
fn the_dockerfile_names_only_what_exists() {
    let problems = dockerfile_problems();
    assert!(
        problems.is_empty(),
        "infra/docker/server.Dockerfile:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_log_filter_is_still_read_from_rust_log() {
    // OTHER_VARIABLES lets RUST_LOG through; that is true only while main.rs
    // builds its filter from the environment.
    assert!(read("server/src/main.rs").contains("EnvFilter::try_from_default_env()"));
}

/// The real binary's subcommands and the variables each reads (`[env: X=`
/// in its help) are the model's: the model cannot drift from main.rs.
#[test]
fn the_command_line_model_is_the_binarys() {
    let help = |args: &[&str]| {
        let output = Process::new(env!("CARGO_BIN_EXE_paypulse-server"))
            .args(args)
            .output()
            .expect("running paypulse-server --help");
        assert!(output.status.success(), "paypulse-server {args:?} failed");
        String::from_utf8(output.stdout).expect("UTF-8 help")
    };
    let top = help(&["--help"]);
    let listed: BTreeSet<String> = top
        .split("Commands:")
        .nth(1)
        .expect("a Commands section")
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .lines()
        // A subcommand's line is indented by two; wrapped text by more.
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    let modelled: BTreeSet<String> = server_cli()
        .get_subcommands()
        .map(|command| command.get_name().to_owned())
        .collect();
    assert_eq!(listed, modelled, "the binary's subcommands");
    for subcommand in &modelled {
        let text = help(&[subcommand.as_str(), "--help"]);
        let read: BTreeSet<String> = text
            .split("[env: ")
            .skip(1)
            .filter_map(|rest| rest.split(['=', ']']).next())
            .map(str::to_owned)
            .collect();
        assert_eq!(read, variables_of(subcommand), "the variables of `{subcommand}`");
    }
}

// ---------------------------------------------------------------------------
// YAML, with the merge keys (`<<`) Compose resolves.

fn load_yaml(text: &str, name: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(text)
        .unwrap_or_else(|error| panic!("{name} is not YAML: {error}"))
        .into_iter()
        .map(merged)
        .collect()
}

fn merged(node: Yaml) -> Yaml {
    match node {
        Yaml::Hash(hash) => {
            let merge_key = Yaml::String("<<".into());
            let mut out = yaml_rust2::yaml::Hash::new();
            let mut inherited = Vec::new();
            for (key, value) in hash {
                if key == merge_key {
                    match value {
                        Yaml::Array(items) => inherited.extend(items),
                        single => inherited.push(single),
                    }
                } else {
                    out.insert(key, merged(value));
                }
            }
            for base in inherited {
                let Yaml::Hash(base) = merged(base) else {
                    panic!("a merge key's value must be a mapping");
                };
                for (key, value) in base {
                    if !out.contains_key(&key) {
                        out.insert(key, value);
                    }
                }
            }
            Yaml::Hash(out)
        }
        Yaml::Array(items) => Yaml::Array(items.into_iter().map(merged).collect()),
        other => other,
    }
}

/// A scalar as the string a container would see.
fn scalar(node: &Yaml) -> Option<String> {
    match node {
        Yaml::String(text) | Yaml::Real(text) => Some(text.clone()),
        Yaml::Integer(number) => Some(number.to_string()),
        Yaml::Boolean(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn strings(node: &Yaml) -> Vec<String> {
    node.as_vec()
        .map(|items| items.iter().filter_map(scalar).collect())
        .unwrap_or_default()
}

fn entries(node: &Yaml) -> Vec<(String, &Yaml)> {
    node.as_hash()
        .map(|hash| {
            hash.iter()
                .filter_map(|(key, value)| Some((scalar(key)?, value)))
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Compose.

/// `KEY=value` lines of infra/compose/.env.example.
fn compose_env_example() -> BTreeMap<String, String> {
    read("infra/compose/.env.example")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (key, value) = line.split_once('=').expect("KEY=value");
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

/// Compose's interpolation (`${NAME}`, `${NAME:-default}`, `${NAME-default}`,
/// `$$` for a dollar) with `variables`; returns the text and the names used.
/// A bare `$NAME` is refused: the files use the braced form only.
fn interpolate(text: &str, variables: &BTreeMap<String, String>) -> (String, BTreeSet<String>) {
    let mut out = String::new();
    let mut used = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(escaped) = after.strip_prefix('$') {
            out.push('$');
            rest = escaped;
        } else if let Some(braced) = after.strip_prefix('{') {
            let end = braced.find('}').expect("an unclosed ${");
            let expression = &braced[..end];
            let (name, default) = match expression.find([':', '-']) {
                Some(split) => {
                    let default = expression[split..].trim_start_matches(':');
                    let default = default
                        .strip_prefix('-')
                        .unwrap_or_else(|| panic!("${{{expression}}}: only the :- and - forms are expected"));
                    (&expression[..split], Some(default))
                }
                None => (expression, None),
            };
            used.insert(name.to_owned());
            match (variables.get(name), default) {
                (Some(value), _) if !value.is_empty() => out.push_str(value),
                (_, Some(default)) => out.push_str(default),
                (Some(value), None) => out.push_str(value),
                (None, None) => panic!("${{{name}}} has neither a value in .env.example nor a default"),
            }
            rest = &braced[end + 1..];
        } else {
            panic!(
                "a bare `$` in the compose file at {:?}: use ${{NAME}} or $$",
                &after[..after.len().min(20)]
            );
        }
    }
    out.push_str(rest);
    (out, used)
}

/// The compose file with `variables` (as if they were .env), and the
/// variables it uses.
fn compose(variables: &BTreeMap<String, String>) -> (Yaml, BTreeSet<String>) {
    let (text, used) = interpolate(&read("infra/compose/docker-compose.yml"), variables);
    let mut documents = load_yaml(&text, "docker-compose.yml");
    assert_eq!(documents.len(), 1, "one compose document");
    (documents.remove(0), used)
}

/// `host:port` of a connection string.
fn authority(url: &str) -> (String, Option<u16>) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    match authority.rsplit_once(':') {
        Some((host, port)) => (host.to_owned(), port.parse().ok()),
        None => (authority.to_owned(), None),
    }
}

/// A query parameter of a connection string.
fn query_parameter(url: &str, name: &str) -> Option<String> {
    url.split_once('?')?
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
}

fn compose_problems(variables: &BTreeMap<String, String>) -> Vec<String> {
    let (file, used) = compose(variables);
    let mut problems = Vec::new();
    let compose_dir = repository().join("infra/compose");
    // Every variable used is in .env.example and every one there is used.
    let documented: BTreeSet<String> = compose_env_example().into_keys().collect();
    for missing in used.difference(&documented) {
        problems.push(format!("${{{missing}}} is used but not in .env.example"));
    }
    for unused in documented.difference(&used) {
        problems.push(format!(".env.example's {unused} is not used"));
    }
    let services: BTreeMap<String, &Yaml> = entries(&file["services"]).into_iter().collect();
    let volumes: BTreeSet<String> = entries(&file["volumes"]).into_iter().map(|(name, _)| name).collect();
    let mut serving = BTreeMap::new();
    let mongodb_replica_set = services
        .get("mongodb")
        .map(|mongodb| strings(&mongodb["command"]))
        .and_then(|command| {
            let at = command.iter().position(|arg| arg == "--replSet")?;
            command.get(at + 1).cloned()
        });
    for (name, service) in &services {
        for (dependency, _) in entries(&service["depends_on"]) {
            if !services.contains_key(&dependency) {
                problems.push(format!("{name} depends on {dependency}, which is not a service"));
            }
        }
        for volume in strings(&service["volumes"]) {
            let source = volume.split(':').next().unwrap_or_default();
            if source.starts_with('.') {
                if !compose_dir.join(source).exists() {
                    problems.push(format!("{name} mounts {source}, which does not exist"));
                }
            } else if !volumes.contains(source) {
                problems.push(format!("{name} mounts volume {source}, which is not declared"));
            }
        }
        let build = &service["build"];
        let runs_ours = scalar(&build["dockerfile"]).is_some();
        if !runs_ours {
            continue;
        }
        let context = compose_dir.join(scalar(&build["context"]).unwrap_or_default());
        let dockerfile_path = scalar(&build["dockerfile"]).unwrap_or_default();
        if !context.join(&dockerfile_path).is_file() {
            problems.push(format!("{name} builds {dockerfile_path}, which is not in its context"));
        }
        if context.canonicalize().ok() != repository().canonicalize().ok() {
            problems.push(format!(
                "{name} builds from {}, not the repository root",
                context.display()
            ));
        }
        let subcommand = match parse_arguments(&strings(&service["command"])) {
            Ok(subcommand) => subcommand,
            Err(problem) => {
                problems.push(format!("{name}: {problem}"));
                continue;
            }
        };
        let environment: BTreeMap<String, String> = entries(&service["environment"])
            .into_iter()
            .filter_map(|(key, value)| Some((key, scalar(value)?)))
            .collect();
        for (variable, value) in &environment {
            if let Err(problem) = check_variable(&subcommand, variable, value) {
                problems.push(format!("{name}: {problem}"));
            }
        }
        // The databases it names are this file's services, the replica set
        // the one mongod runs.
        if let Some(uri) = environment.get("MONGODB_URI") {
            let (host, port) = authority(uri);
            if !services.contains_key(&host) || port != Some(27017) {
                problems.push(format!(
                    "{name}: MONGODB_URI names {host}:{port:?}, not the mongodb service"
                ));
            }
            if query_parameter(uri, "replicaSet") != mongodb_replica_set {
                problems.push(format!("{name}: MONGODB_URI's replicaSet is not mongod's --replSet"));
            }
        }
        if let Some(url) = environment.get("REDIS_URL") {
            let (host, _) = authority(url);
            if !services.contains_key(&host) {
                problems.push(format!("{name}: REDIS_URL names {host}, not a service"));
            }
        }
        if subcommand != "serve" {
            continue;
        }
        // A server: its published ports land on PORT, and its health check
        // is the image's.
        let port = environment.get("PORT").cloned().unwrap_or_else(|| "8080".into());
        for mapping in strings(&service["ports"]) {
            if mapping.rsplit(':').next() != Some(port.as_str()) {
                problems.push(format!("{name} publishes {mapping}, not its PORT {port}"));
            }
        }
        let check = strings(&service["healthcheck"]["test"]);
        let image_check = image_health_check(&dockerfile());
        if check.get(1..) != Some(&image_check[..]) {
            problems.push(format!("{name}'s health check is not the image's: {check:?}"));
        }
        serving.insert(name.clone(), port);
    }
    if serving.len() < 2 {
        problems.push(format!("{} server instance(s), not two", serving.len()));
    }
    problems.extend(nginx_problems(&serving));
    // The replica set the init script makes is mongod's, under the name the
    // servers use.
    let init = read("infra/compose/mongodb-init.js");
    let initiated = init
        .split("rs.initiate(")
        .nth(1)
        .expect("mongodb-init.js calls rs.initiate");
    let quoted: Vec<&str> = initiated.split('"').skip(1).step_by(2).collect();
    if quoted.first().map(|set| (*set).to_owned()) != mongodb_replica_set {
        problems.push(format!(
            "mongodb-init.js initiates {:?}, mongod runs {mongodb_replica_set:?}",
            quoted.first()
        ));
    }
    if quoted.get(1) != Some(&"mongodb:27017") {
        problems.push(format!(
            "mongodb-init.js names the member {:?}, not mongodb:27017",
            quoted.get(1)
        ));
    }
    if !strings(&services.get("mongodb-init").map_or(&Yaml::BadValue, |init| *init)["command"])
        .iter()
        .any(|arg| arg.ends_with("mongodb-init.js"))
    {
        problems.push("no mongodb-init service runs mongodb-init.js".into());
    }
    problems
}

/// The proxy: its upstreams are the server services on their PORT, every
/// location a routed path, the live path upgraded, the Host passed on.
fn nginx_problems(serving: &BTreeMap<String, String>) -> Vec<String> {
    let config = read("infra/compose/nginx.conf");
    let lines: Vec<&str> = config
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .collect();
    let mut problems = Vec::new();
    let mut upstreams = BTreeSet::new();
    let mut upstream_name = None;
    let mut in_upstream = false;
    for line in &lines {
        if let Some(name) = line.strip_prefix("upstream ") {
            upstream_name = Some(name.trim_end_matches('{').trim().to_owned());
            in_upstream = true;
        } else if in_upstream && *line == "}" {
            in_upstream = false;
        } else if in_upstream && let Some(server) = line.strip_prefix("server ") {
            upstreams.insert(server.split([' ', ';']).next().unwrap_or_default().to_owned());
        }
    }
    let expected: BTreeSet<String> = serving.iter().map(|(name, port)| format!("{name}:{port}")).collect();
    if upstreams != expected {
        problems.push(format!("nginx upstreams {upstreams:?}, the servers are {expected:?}"));
    }
    // Each location block: its path and its directives.
    let mut locations: Vec<(String, Vec<&str>)> = Vec::new();
    for line in &lines {
        if let Some(location) = line.strip_prefix("location ") {
            let path = location
                .trim_end_matches('{')
                .trim()
                .trim_start_matches("= ")
                .to_owned();
            locations.push((path, Vec::new()));
        } else if let Some((_, directives)) = locations.last_mut()
            && *line != "}"
        {
            directives.push(line);
        }
    }
    let upstream = format!("proxy_pass http://{};", upstream_name.unwrap_or_default());
    for (path, directives) in &locations {
        if path != "/" && !routed(path) {
            problems.push(format!("nginx location {path} is not a route of the server"));
        }
        if !directives.contains(&upstream.as_str()) {
            problems.push(format!("nginx location {path} does not pass to the upstream"));
        }
        if !directives.contains(&"proxy_set_header Host $http_host;") {
            problems.push(format!("nginx location {path} does not pass the Host (the tenant) on"));
        }
    }
    match locations.iter().find(|(path, _)| path == "/ws/payments") {
        None => problems.push("nginx has no location for /ws/payments".into()),
        Some((_, directives)) => {
            for needed in [
                "proxy_set_header Upgrade $http_upgrade;",
                "proxy_set_header Connection $connection_upgrade;",
            ] {
                if !directives.contains(&needed) {
                    problems.push(format!("nginx /ws/payments lacks `{needed}`"));
                }
            }
        }
    }
    if !lines.contains(&"proxy_http_version 1.1;") {
        problems.push("nginx speaks HTTP/1.0 to the servers: no upgrades".into());
    }
    problems
}

#[test]
fn the_compose_file_names_only_what_exists() {
    // With .env.example copied to .env, and with no .env (the defaults).
    let mut problems: Vec<String> = compose_problems(&compose_env_example())
        .into_iter()
        .map(|problem| format!("with .env.example: {problem}"))
        .collect();
    problems.extend(
        compose_problems(&BTreeMap::new())
            .into_iter()
            .map(|problem| format!("without .env: {problem}")),
    );
    assert!(problems.is_empty(), "infra/compose:\n  {}", problems.join("\n  "));
}

// ---------------------------------------------------------------------------
// Kubernetes.

/// Every object of infra/k8s, by kind and name.
fn kubernetes() -> BTreeMap<(String, String), Yaml> {
    let folder = repository().join("infra/k8s");
    let mut objects = BTreeMap::new();
    for resource in strings(&load_yaml(&read("infra/k8s/kustomization.yaml"), "kustomization.yaml")[0]["resources"]) {
        let name = format!("infra/k8s/{resource}");
        for document in load_yaml(&read(&name), &name) {
            let kind = scalar(&document["kind"]).unwrap_or_else(|| panic!("{name}: an object without a kind"));
            let object_name = scalar(&document["metadata"]["name"]).expect("a named object");
            objects.insert((kind, object_name), document);
        }
    }
    assert!(folder.is_dir());
    objects
}

fn kubernetes_problems() -> Vec<String> {
    let mut problems = Vec::new();
    // The kustomization lists exactly the folder's manifests.
    let kustomization = &load_yaml(&read("infra/k8s/kustomization.yaml"), "kustomization.yaml")[0];
    let listed: BTreeSet<String> = strings(&kustomization["resources"]).into_iter().collect();
    let present: BTreeSet<String> = std::fs::read_dir(repository().join("infra/k8s"))
        .expect("infra/k8s")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".yaml") && name != "kustomization.yaml")
        .collect();
    if listed != present {
        problems.push(format!(
            "kustomization.yaml lists {listed:?}, the folder holds {present:?}"
        ));
    }
    let objects = kubernetes();
    let get = |kind: &str, name: &str| objects.get(&(kind.to_owned(), name.to_owned()));
    let of_kind = |kind: &'static str| {
        objects
            .iter()
            .filter(move |((k, _), _)| k == kind)
            .map(|(_, object)| object)
    };

    let deployments: Vec<&Yaml> = of_kind("Deployment").collect();
    assert_eq!(deployments.len(), 1, "one Deployment");
    let deployment = deployments[0];
    let deployment_name = scalar(&deployment["metadata"]["name"]).unwrap_or_default();
    let spec = &deployment["spec"];
    if spec["replicas"].as_i64().unwrap_or(0) < 2 {
        problems.push("the Deployment runs fewer than 2 replicas".into());
    }
    let pod_labels: BTreeMap<String, String> = entries(&spec["template"]["metadata"]["labels"])
        .into_iter()
        .filter_map(|(key, value)| Some((key, scalar(value)?)))
        .collect();
    let selects_pods = |selector: &Yaml| {
        let wanted = entries(selector);
        !wanted.is_empty()
            && wanted
                .iter()
                .all(|(key, value)| pod_labels.get(key) == scalar(value).as_ref())
    };
    if !selects_pods(&spec["selector"]["matchLabels"]) {
        problems.push("the Deployment's selector does not match its pods".into());
    }
    let pod = &spec["template"]["spec"];
    let containers = pod["containers"].as_vec().cloned().unwrap_or_default();
    assert_eq!(containers.len(), 1, "one container");
    let container = &containers[0];
    // The image is the one the kustomization maps, run as the image's user.
    let images: Vec<String> = kustomization["images"]
        .as_vec()
        .map(|images| images.iter().filter_map(|image| scalar(&image["name"])).collect())
        .unwrap_or_default();
    if !images.contains(&scalar(&container["image"]).unwrap_or_default()) {
        problems.push("the container's image is not one kustomization.yaml sets".into());
    }
    let image_user = instructions(&dockerfile(), "USER")
        .next()
        .and_then(|user| user.split(':').next())
        .and_then(|uid| uid.parse::<i64>().ok());
    if pod["securityContext"]["runAsUser"].as_i64() != image_user {
        problems.push(format!("runAsUser is not the image's USER {image_user:?}"));
    }
    // Its arguments parse, and its environment is real variables that parse.
    let subcommand = match parse_arguments(&strings(&container["args"])) {
        Ok(subcommand) => subcommand,
        Err(problem) => {
            problems.push(format!("container args: {problem}"));
            "serve".to_owned()
        }
    };
    let mut environment = BTreeMap::new();
    for source in container["envFrom"].as_vec().cloned().unwrap_or_default() {
        let (kind, data, reference) = if scalar(&source["configMapRef"]["name"]).is_some() {
            ("ConfigMap", "data", &source["configMapRef"])
        } else {
            ("Secret", "stringData", &source["secretRef"])
        };
        let name = scalar(&reference["name"]).unwrap_or_default();
        let Some(object) = get(kind, &name) else {
            problems.push(format!("envFrom names {kind} {name}, which is not defined"));
            continue;
        };
        for (variable, value) in entries(&object[data]) {
            let value = scalar(value).unwrap_or_default();
            if let Err(problem) = check_variable(&subcommand, &variable, &value) {
                problems.push(format!("{kind} {name}: {problem}"));
            }
            environment.insert(variable, value);
        }
    }
    for variable in ["MONGODB_URI", "REDIS_URL", "HOST", "PORT"] {
        if !environment.contains_key(variable) {
            problems.push(format!("the pods get no {variable}"));
        }
    }
    // The connection strings name the external Services, on their ports.
    for variable in ["MONGODB_URI", "REDIS_URL"] {
        let (host, port) = authority(environment.get(variable).map_or("", String::as_str));
        let service_ports: Vec<i64> = get("Service", &host)
            .map(|service| {
                service["spec"]["ports"]
                    .as_vec()
                    .map(|ports| ports.iter().filter_map(|port| port["port"].as_i64()).collect())
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        if !port.is_some_and(|port| service_ports.contains(&i64::from(port))) {
            problems.push(format!(
                "{variable} names {host}:{port:?}, not a Service of these manifests"
            ));
        }
    }
    // The container listens where its port says.
    let container_ports: BTreeMap<String, i64> = container["ports"]
        .as_vec()
        .map(|ports| {
            ports
                .iter()
                .filter_map(|port| Some((scalar(&port["name"])?, port["containerPort"].as_i64()?)))
                .collect()
        })
        .unwrap_or_default();
    let port = environment.get("PORT").and_then(|port| port.parse::<i64>().ok());
    if container_ports.get("http").copied() != port {
        problems.push(format!(
            "containerPort http is {:?}, PORT is {port:?}",
            container_ports.get("http")
        ));
    }
    // Probes: routed, credential-free GETs on the container's port.
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        let check = &container[probe]["httpGet"];
        let path = scalar(&check["path"]).unwrap_or_default();
        if !probe_paths().contains(&path) {
            problems.push(format!("{probe} requests {path:?}, not a probe of the server"));
        }
        if !container_ports.contains_key(&scalar(&check["port"]).unwrap_or_default()) {
            problems.push(format!("{probe}'s port is not a container port"));
        }
    }
    // Shutdown: the preStop pause, then at least a request's deadline (and
    // a margin) before SIGKILL.
    let pause = strings(&container["lifecycle"]["preStop"]["exec"]["command"]);
    let pause_seconds = match pause.as_slice() {
        [sleep, seconds] if sleep == "sleep" => seconds.parse::<u64>().ok(),
        _ => None,
    };
    let Some(pause_seconds) = pause_seconds else {
        problems.push(format!("preStop is not `sleep <seconds>`: {pause:?}"));
        return problems;
    };
    let grace = pod["terminationGracePeriodSeconds"].as_i64().unwrap_or(30) as u64;
    let deadline = paypulse_server::headers::REQUEST_DEADLINE.as_secs();
    if grace < pause_seconds + deadline + 5 {
        problems.push(format!(
            "terminationGracePeriodSeconds {grace} < preStop {pause_seconds} s + the request deadline {deadline} s + 5 s"
        ));
    }
    // The Service selects the pods, on the named container port.
    let services: Vec<&Yaml> = of_kind("Service")
        .filter(|service| scalar(&service["spec"]["type"]).as_deref() != Some("ExternalName"))
        .collect();
    assert_eq!(services.len(), 1, "one Service for the servers");
    let service = services[0];
    let service_name = scalar(&service["metadata"]["name"]).unwrap_or_default();
    if !selects_pods(&service["spec"]["selector"]) {
        problems.push("the Service does not select the pods".into());
    }
    let mut service_ports = BTreeSet::new();
    for port in service["spec"]["ports"].as_vec().cloned().unwrap_or_default() {
        service_ports.insert(scalar(&port["name"]).unwrap_or_default());
        if !container_ports.contains_key(&scalar(&port["targetPort"]).unwrap_or_default()) {
            problems.push("the Service's targetPort is not a container port".into());
        }
    }
    // Ingress: the bare domain and *.BASE_DOMAIN, routed paths to the
    // Service, the live path among them, under TLS.
    let base_domain = environment.get("BASE_DOMAIN").cloned().unwrap_or_default();
    let mut ingress_paths = BTreeSet::new();
    let mut ingress_hosts = BTreeSet::new();
    for ingress in of_kind("Ingress") {
        let tls_hosts: BTreeSet<String> = ingress["spec"]["tls"]
            .as_vec()
            .map(|tls| tls.iter().flat_map(|entry| strings(&entry["hosts"])).collect())
            .unwrap_or_default();
        for rule in ingress["spec"]["rules"].as_vec().cloned().unwrap_or_default() {
            let host = scalar(&rule["host"]).unwrap_or_default();
            if !tls_hosts.contains(&host) {
                problems.push(format!("Ingress host {host} is not under TLS"));
            }
            ingress_hosts.insert(host);
            for path in rule["http"]["paths"].as_vec().cloned().unwrap_or_default() {
                let route = scalar(&path["path"]).unwrap_or_default();
                if route != "/" && !routed(&route) {
                    problems.push(format!("Ingress path {route} is not a route of the server"));
                }
                let backend = &path["backend"]["service"];
                if scalar(&backend["name"]) != Some(service_name.clone())
                    || !service_ports.contains(&scalar(&backend["port"]["name"]).unwrap_or_default())
                {
                    problems.push(format!(
                        "Ingress path {route} goes to a Service port that does not exist"
                    ));
                }
                ingress_paths.insert(route);
            }
        }
    }
    let expected_hosts = BTreeSet::from([base_domain.clone(), format!("*.{base_domain}")]);
    if ingress_hosts != expected_hosts {
        problems.push(format!(
            "Ingress hosts {ingress_hosts:?}, BASE_DOMAIN wants {expected_hosts:?}"
        ));
    }
    if !ingress_paths.contains("/ws/payments") {
        problems.push("no Ingress path for the live feed /ws/payments".into());
    }
    // Scaling and disruption target this Deployment and its pods.
    for hpa in of_kind("HorizontalPodAutoscaler") {
        let target = &hpa["spec"]["scaleTargetRef"];
        if scalar(&target["kind"]).as_deref() != Some("Deployment")
            || scalar(&target["name"]) != Some(deployment_name.clone())
        {
            problems.push("the HorizontalPodAutoscaler does not scale the Deployment".into());
        }
        if hpa["spec"]["minReplicas"].as_i64().unwrap_or(1) < 2 {
            problems.push("the HorizontalPodAutoscaler may scale below 2 pods".into());
        }
    }
    if of_kind("HorizontalPodAutoscaler").count() != 1 {
        problems.push("not exactly one HorizontalPodAutoscaler".into());
    }
    let budgets: Vec<&Yaml> = of_kind("PodDisruptionBudget").collect();
    if budgets.len() != 1 || !selects_pods(&budgets[0]["spec"]["selector"]["matchLabels"]) {
        problems.push("no PodDisruptionBudget selects the pods".into());
    }
    problems
}

#[test]
fn the_kubernetes_manifests_name_only_what_exists() {
    let problems = kubernetes_problems();
    assert!(problems.is_empty(), "infra/k8s:\n  {}", problems.join("\n  "));
}

// ---------------------------------------------------------------------------
// The health check, run.

/// Runs a health-check command (the image's binary and its arguments) as
/// the container would, with PORT set, on the binary built here; whether it
/// reported healthy.
fn run_check(command: &[String], port: u16) -> bool {
    Process::new(env!("CARGO_BIN_EXE_paypulse-server"))
        .args(&command[1..])
        .env("PORT", port.to_string())
        .status()
        .expect("running the health check")
        .success()
}

#[tokio::test]
async fn the_images_health_check_passes_on_a_live_server_and_fails_on_none_or_a_wedged_one() {
    let app = TestApp::spawn().await;
    let image_check = image_health_check(&dockerfile());
    assert_eq!(image_check[1..], ["healthcheck"], "the check is the binary's own");
    let live = app.address.port();
    let nobody = free_port();
    // A wedged process: the port takes connections, nothing answers.
    let wedged = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).expect("a listener");
    let wedged_port = wedged.local_addr().expect("its address").port();
    let (first, second, third) = tokio::task::spawn_blocking(move || {
        (
            run_check(&image_check, live),
            run_check(&image_check, nobody),
            run_check(&image_check, wedged_port),
        )
    })
    .await
    .expect("the checks ran");
    drop(wedged);
    assert!(first, "the HEALTHCHECK failed against a live server");
    assert!(!second, "the HEALTHCHECK passed with nothing listening");
    assert!(!third, "the HEALTHCHECK passed on a port that never answers");
}
