//! Helm charts among the apps. A chart's templates are not Kubernetes YAML until `helm
//! template` renders them: a directory holding a chart is refused with the command to run,
//! and an apps file that fails to load while holding a Go template action (`{{ ... }}`) gets
//! the same hint beside its error. A file that loads is never refused for its braces: real
//! manifests carry templates in strings (alerting rules, say).

use std::path::Path;

use crate::error::LoadError;
use crate::files::source::SourceFile;

/// The file that makes a directory a Helm chart.
pub(crate) const CHART_FILE: &str = "Chart.yaml";

/// True when `dir` holds a Helm chart.
pub(crate) fn is_chart(dir: &Path) -> bool {
    dir.join(CHART_FILE).is_file()
}

/// What to do about an unrendered chart: the `helm template` command, with `chart` when it
/// is known.
pub(crate) fn render_hint(chart: Option<&Path>) -> String {
    let chart = chart.map_or_else(|| "CHART".to_string(), |c| c.display().to_string());
    format!("render it first with `helm template RELEASE {chart} > apps.yaml` and plan with that file")
}

/// `error`, met while loading `file`, with the hint to render it first when `file` holds a
/// Go template action; otherwise `error` as it is.
pub(crate) fn with_hint(error: LoadError, file: &SourceFile) -> LoadError {
    match template_action(&file.text) {
        Some((line, action)) => LoadError::HelmTemplate {
            source: Box::new(error),
            line,
            action,
            chart: file
                .name
                .ancestors()
                .skip(1)
                .find(|dir| is_chart(dir))
                .map(Path::to_path_buf),
        },
        None => error,
    }
}

/// The first Go template action in `text` (`{{ ... }}` on one line), with its 1-based line.
fn template_action(text: &str) -> Option<(usize, String)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let start = line.find("{{")?;
        let rest = line.get(start..)?;
        let end = rest.find("}}")? + 2;
        Some((i + 1, rest.get(..end)?.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_action_is_found_with_its_line() {
        assert_eq!(
            template_action("a: 1\nname: {{ include \"x\" . }}-web\n{{- end }}\n"),
            Some((2, "{{ include \"x\" . }}".to_string()))
        );
        assert_eq!(template_action("a: '{{'\nb: '}}'\n"), None);
        assert_eq!(template_action("a: 1\n"), None);
    }
}
