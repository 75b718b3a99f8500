//! EC2 instance types read live through the EC2 API (`DescribeInstanceTypes`), for node groups
//! of live EKS clusters whose types are newer than the generated table
//! ([`crate::instance_types`]).
//!
//! The call is one signed HTTPS request in EC2's Query protocol (form-encoded `POST`, SigV4
//! signed with the credentials of the AWS SDK configuration, a plain XML answer read here),
//! rather than through
//! the aws-sdk-ec2 crate: that crate alone takes over three minutes to compile on a 2-core
//! machine for each build profile, for one call. The endpoint is the configuration's
//! endpoint URL when it has one (`AWS_ENDPOINT_URL`, as for a moto server), else
//! `https://ec2.REGION.amazonaws.com/`.
//!
//! The answer's fields are read as the table's generator reads the same fields of the same
//! API shape (`adapters/aws/data/generate.py`): the ENIs are those of the default network
//! card, GPUs and Neuron devices are summed over their entries.

use std::time::SystemTime;

use aws_credential_types::provider::ProvideCredentials;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::instance_types::{Arch, InstanceType};

/// The EC2 Query API version this module speaks.
pub const API_VERSION: &str = "2016-11-15";
/// The most instance types one `DescribeInstanceTypes` call may name.
pub const MAX_TYPES_PER_CALL: usize = 100;

/// Describes `names` (at most [`MAX_TYPES_PER_CALL`]) in `region` with the credentials and
/// endpoint of `config`. An error is a message naming the call and what EC2 said (a name EC2
/// does not know is EC2's `InvalidInstanceType`).
pub async fn describe_instance_types(
    config: &aws_config::SdkConfig,
    region: &str,
    names: &[String],
) -> Result<Vec<InstanceType>, String> {
    if names.len() > MAX_TYPES_PER_CALL {
        return Err(format!("at most {MAX_TYPES_PER_CALL} instance types per call"));
    }
    let endpoint = config.endpoint_url().map_or_else(
        || format!("https://ec2.{region}.amazonaws.com/"),
        |url| format!("{}/", url.trim_end_matches('/')),
    );
    let body = {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", "DescribeInstanceTypes");
        form.append_pair("Version", API_VERSION);
        for (i, name) in names.iter().enumerate() {
            form.append_pair(&format!("InstanceType.{}", i + 1), name);
        }
        form.finish()
    };
    let request = signed_request(config, region, &endpoint, body).await?;

    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
        .map_err(|e| format!("cannot load the system's root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let response = client
        .request(request)
        .await
        .map_err(|e| format!("cannot reach {endpoint}: {e}"))?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("cannot read the answer of {endpoint}: {e}"))?
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    if !status.is_success() {
        return Err(format!("{status}: {}", error_message(&text)));
    }
    parse_response(&text).map_err(|e| format!("cannot read the answer: {e}"))
}

/// A `POST` of `body` to `endpoint`, signed with SigV4 for EC2 in `region`.
async fn signed_request(
    config: &aws_config::SdkConfig,
    region: &str,
    endpoint: &str,
    body: String,
) -> Result<hyper::Request<Full<Bytes>>, String> {
    let provider = config
        .credentials_provider()
        .ok_or("no AWS credentials are configured")?;
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(|e| format!("cannot load AWS credentials: {e}"))?;
    let identity = credentials.into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("ec2")
        .time(SystemTime::now())
        .settings(aws_sigv4::http_request::SigningSettings::default())
        .build()
        .map_err(|e| format!("cannot sign the request: {e}"))?
        .into();
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let signable = aws_sigv4::http_request::SignableRequest::new(
        "POST",
        endpoint,
        [("content-type", content_type)].into_iter(),
        aws_sigv4::http_request::SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| format!("cannot sign the request: {e}"))?;
    let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
        .map_err(|e| format!("cannot sign the request: {e}"))?
        .into_parts();
    let mut request = hyper::Request::post(endpoint)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("bad endpoint `{endpoint}`: {e}"))?;
    instructions.apply_to_request_http1x(&mut request);
    Ok(request)
}

/// The `Code: Message` of an EC2 error answer, or the answer itself.
fn error_message(text: &str) -> String {
    let field = |tag: &str| {
        let open = format!("<{tag}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{tag}>"))? + start;
        Some(text[start..end].to_owned())
    };
    match (field("Code"), field("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        _ => text.chars().take(300).collect(),
    }
}

/// The instance types of a `DescribeInstanceTypesResponse`.
fn parse_response(text: &str) -> Result<Vec<InstanceType>, String> {
    const ITEM: &str = "/DescribeInstanceTypesResponse/instanceTypeSet/item";
    let mut types = Vec::new();
    let mut item: Option<Vec<(String, String)>> = None;
    for event in xml_events(text)? {
        match event {
            XmlEvent::Open(path) if path == ITEM => item = Some(Vec::new()),
            XmlEvent::Close(path) if path == ITEM => {
                let leaves = Leaves(item.take().unwrap_or_default());
                types.push(parse_instance_type(&leaves)?);
            }
            XmlEvent::Leaf(path, value) => {
                if let (Some(leaves), Some(inner)) = (item.as_mut(), path.strip_prefix(ITEM)) {
                    leaves.push((inner.to_owned(), value));
                }
            }
            XmlEvent::Open(_) | XmlEvent::Close(_) => {}
        }
    }
    Ok(types)
}

/// What a walk through an XML answer meets, each element named by its path from the root
/// (`/A/b/c`).
enum XmlEvent {
    Open(String),
    Close(String),
    /// An element without child elements, with its text unescaped.
    Leaf(String, String),
}

/// The elements of `text`, a plain XML answer as the EC2 Query API writes them (elements and
/// text; the declaration, comments and attributes are skipped).
fn xml_events(text: &str) -> Result<Vec<XmlEvent>, String> {
    let mut events = Vec::new();
    let mut path = String::new();
    let mut rest = text;
    let mut text_since_open: Option<String> = None;
    while let Some(start) = rest.find('<') {
        let chunk = &rest[..start];
        if let Some(t) = text_since_open.as_mut() {
            t.push_str(chunk);
        }
        let end = rest[start..].find('>').ok_or("an unclosed tag")? + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim();
            if !path.ends_with(&format!("/{name}")) {
                return Err(format!("`</{name}>` closes nothing open"));
            }
            if let Some(value) = text_since_open.take() {
                events.push(XmlEvent::Leaf(path.clone(), unescape(value.trim())));
            }
            events.push(XmlEvent::Close(path.clone()));
            path.truncate(path.len() - name.len() - 1);
        } else {
            let self_closing = tag.ends_with('/');
            let name = tag
                .trim_end_matches('/')
                .split_whitespace()
                .next()
                .ok_or("an empty tag")?;
            path.push('/');
            path.push_str(name);
            events.push(XmlEvent::Open(path.clone()));
            if self_closing {
                events.push(XmlEvent::Leaf(path.clone(), String::new()));
                events.push(XmlEvent::Close(path.clone()));
                path.truncate(path.len() - name.len() - 1);
                text_since_open = None;
            } else {
                text_since_open = Some(String::new());
            }
        }
    }
    if !path.is_empty() {
        return Err(format!("`{path}` is not closed"));
    }
    Ok(events)
}

/// `text` with XML's five entities replaced.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The leaves of one `instanceTypeSet` item: `(path, text)` pairs such as
/// `("/vCpuInfo/defaultVCpus", "2")`, in document order.
struct Leaves(Vec<(String, String)>);

impl Leaves {
    /// Every leaf at `path`.
    fn all<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(p, _)| p == path)
            .map(|(_, v)| v.as_str())
    }

    /// The first leaf at `path`.
    fn one<'a>(&'a self, path: &'a str) -> Option<&'a str> {
        self.all(path).next()
    }
}

fn parse_instance_type(leaves: &Leaves) -> Result<InstanceType, String> {
    let all = |path: &'static str| leaves.all(path);
    let one = |path: &'static str| leaves.one(path);
    let name = one("/instanceType")
        .ok_or("an instance type without `instanceType`")?
        .to_owned();
    let number = |path: &'static str| -> Result<u64, String> {
        let text = one(path).ok_or(format!("{name}: no `{path}`"))?;
        text.parse().map_err(|_| format!("{name}: `{path}` is `{text}`"))
    };
    let small = |path: &'static str| {
        u32::try_from(number(path)?).map_err(|_| format!("{name}: `{path}` is too large"))
    };
    let sum = |path: &'static str| all(path).filter_map(|v| v.parse::<u32>().ok()).sum::<u32>();
    let architectures: Vec<&str> = all("/processorInfo/supportedArchitectures/item").collect();
    let arch = architectures
        .iter()
        .find_map(|a| Arch::parse(a.trim_end_matches("_mac")))
        .ok_or(format!("{name}: architectures {architectures:?}"))?;
    let default_card = one("/networkInfo/defaultNetworkCardIndex").unwrap_or("0");
    let cards: Vec<&str> = all("/networkInfo/networkCards/item/networkCardIndex").collect();
    let card_enis: Vec<&str> = all("/networkInfo/networkCards/item/maximumNetworkInterfaces").collect();
    let enis = match cards.iter().position(|c| *c == default_card) {
        Some(i) if cards.len() == card_enis.len() => card_enis[i]
            .parse()
            .map_err(|_| format!("{name}: network card ENIs `{}`", card_enis[i]))?,
        _ => small("/networkInfo/maximumNetworkInterfaces")?,
    };
    let neuron_cores: u32 = all("/neuronInfo/neuronDevices/item/count")
        .zip(all("/neuronInfo/neuronDevices/item/coreInfo/count"))
        .filter_map(|(d, c)| Some(d.parse::<u32>().ok()? * c.parse::<u32>().ok()?))
        .sum();
    Ok(InstanceType {
        current_generation: one("/currentGeneration") == Some("true"),
        arch,
        mac: architectures.iter().all(|a| a.ends_with("_mac")),
        vcpus: small("/vCpuInfo/defaultVCpus")?,
        memory_mib: number("/memoryInfo/sizeInMiB")?,
        enis,
        ips_per_eni: small("/networkInfo/ipv4AddressesPerInterface")?,
        gpus: sum("/gpuInfo/gpus/item/count"),
        gpu_manufacturer: one("/gpuInfo/gpus/item/manufacturer")
            .unwrap_or_default()
            .to_owned(),
        gpu_name: one("/gpuInfo/gpus/item/name").unwrap_or_default().to_owned(),
        neuron_devices: sum("/neuronInfo/neuronDevices/item/count"),
        neuron_cores,
        local_storage_gb: one("/instanceStorageInfo/totalSizeInGB")
            .map_or(Ok(0), |_| number("/instanceStorageInfo/totalSizeInGB"))?,
        spot: all("/supportedUsageClasses/item").any(|c| c == "spot"),
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstanceTypesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>1</requestId>
  <instanceTypeSet>
    <item>
      <instanceType>p9.large</instanceType>
      <currentGeneration>true</currentGeneration>
      <supportedUsageClasses><item>on-demand</item><item>spot</item></supportedUsageClasses>
      <processorInfo><supportedArchitectures><item>arm64</item></supportedArchitectures></processorInfo>
      <vCpuInfo><defaultVCpus>8</defaultVCpus></vCpuInfo>
      <memoryInfo><sizeInMiB>32768</sizeInMiB></memoryInfo>
      <networkInfo>
        <maximumNetworkInterfaces>8</maximumNetworkInterfaces>
        <ipv4AddressesPerInterface>15</ipv4AddressesPerInterface>
        <defaultNetworkCardIndex>0</defaultNetworkCardIndex>
        <networkCards>
          <item><networkCardIndex>0</networkCardIndex><maximumNetworkInterfaces>4</maximumNetworkInterfaces></item>
          <item><networkCardIndex>1</networkCardIndex><maximumNetworkInterfaces>4</maximumNetworkInterfaces></item>
        </networkCards>
      </networkInfo>
      <gpuInfo><gpus><item><count>2</count><manufacturer>NVIDIA</manufacturer><name>L4</name></item></gpus></gpuInfo>
    </item>
  </instanceTypeSet>
</DescribeInstanceTypesResponse>"#;

    #[test]
    fn answers_are_read_as_the_generator_reads_the_same_fields() {
        let types = parse_response(ANSWER).unwrap();
        assert_eq!(
            types,
            [InstanceType {
                name: "p9.large".into(),
                current_generation: true,
                arch: Arch::Arm64,
                mac: false,
                vcpus: 8,
                memory_mib: 32768,
                enis: 4,
                ips_per_eni: 15,
                gpus: 2,
                gpu_manufacturer: "NVIDIA".into(),
                gpu_name: "L4".into(),
                neuron_devices: 0,
                neuron_cores: 0,
                local_storage_gb: 0,
                spot: true,
            }]
        );
    }

    #[test]
    fn error_answers_give_code_and_message() {
        let text = "<Response><Errors><Error><Code>InvalidInstanceType</Code><Message>x9.huge is not valid</Message></Error></Errors></Response>";
        assert_eq!(error_message(text), "InvalidInstanceType: x9.huge is not valid");
        assert_eq!(error_message("plain"), "plain");
        assert!(parse_response("<nope").is_err());
        assert!(parse_response("<a><b></a>").is_err());
        assert!(parse_response("<a>").is_err());
    }
}
