//! The built-in detector catalog.

use crate::shapes::{Matcher, Token};
use crate::validate::Validator;

/// How the engine finds candidate positions for a built-in detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trig {
    /// At the start of a digit run (numeric PII); `Shape` says which runs are worth a look.
    Digit(Shape),
    /// Two uppercase letters before a digit run (IBAN, UK NINO).
    LetterDigit,
    /// `+`, `(` or a digit run (phone numbers).
    Phone,
    /// `@` (e-mail: the anchor is found by scanning back over the local part).
    At,
    /// `:` after at most four hex digits (IPv6).
    Colon,
    /// `:` or `-` after two hex digits, `.` after four (MAC addresses).
    Mac,
    /// One of these literals; the anchor is where the literal starts. Each literal is found
    /// through its rarest byte (see `masker::anchor_offset`), then compared in place.
    Lit(&'static [&'static str]),
    /// One of these keywords, in any case, followed by `["']?\s{0,3}` and then `:` or `=`
    /// (assignments): found from the operator by looking back, so common words such as
    /// `secret` cost nothing until an operator follows them. The anchor is where the keyword
    /// starts.
    Assign(&'static [&'static str]),
}

/// What a digit run must look like before a numeric detector's regex runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Card,
    Nine,
    Ipv4,
}

/// One entry of the catalog.
pub(crate) struct Spec {
    pub(crate) name: &'static str,
    pub(crate) regex: &'static str,
    pub(crate) max_len: usize,
    pub(crate) trig: Trig,
    pub(crate) validator: Validator,
    pub(crate) priority: u8,
    /// The regex has a group `v` and only that group is masked.
    pub(crate) value_group: bool,
    /// The byte before the anchor must not be a letter or digit.
    pub(crate) start_boundary: bool,
    /// The byte after the match must not be a letter or digit (nor `-`/`.` before a digit).
    pub(crate) end_boundary: bool,
    /// The regex has no longest match (a class run without an upper bound): a match that
    /// reaches `max_len` was cut there, and is masked without the end-boundary test (a token
    /// longer than any real one is masked up to `max_len` rather than not at all).
    pub(crate) unbounded: bool,
    /// How many bytes of the match come before its `Lit` literal (a fixed-length head: the
    /// `abc8` of an Azure AD client secret's `abc8Q~...`); 0 when the literal starts it.
    pub(crate) lead: u8,
    /// A hand-written equivalent of `regex` (see `shapes`), used instead of it.
    pub(crate) matcher: Option<Matcher>,
    pub(crate) about: &'static str,
}

const fn spec(
    name: &'static str,
    regex: &'static str,
    max_len: usize,
    trig: Trig,
    validator: Validator,
    priority: u8,
    about: &'static str,
) -> Spec {
    Spec {
        name,
        regex,
        max_len,
        trig,
        validator,
        priority,
        value_group: false,
        start_boundary: true,
        end_boundary: true,
        unbounded: false,
        lead: 0,
        matcher: None,
        about,
    }
}

const fn value(mut s: Spec) -> Spec {
    s.value_group = true;
    s.start_boundary = false;
    s.end_boundary = false;
    s
}

const fn native(mut s: Spec, m: Matcher) -> Spec {
    s.matcher = Some(m);
    s
}

/// The keyword of a value detector must not be glued to a letter or digit before it (`?sig=`,
/// `&sig=` and `webhook_sig=`, not `xsig=`).
const fn word_start(mut s: Spec) -> Spec {
    s.start_boundary = true;
    s
}

const fn unbounded(mut s: Spec) -> Spec {
    s.unbounded = true;
    s
}

/// The `Lit` literal starts `n` bytes into the match.
const fn headed(n: u8, mut s: Spec) -> Spec {
    s.lead = n;
    s
}

const fn open_end(mut s: Spec) -> Spec {
    s.end_boundary = false;
    s
}

use Trig::{Assign, At, Colon, Digit, LetterDigit, Lit, Mac, Phone};
use Validator as V;

/// Secrets keywords that introduce an assignment (`password=`, `secret:`...), in any case.
const ASSIGN_LITERALS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    // `Pwd=` of ODBC connection strings, `MYSQL_PWD=` (and `PWD=/home/x` of an environment
    // dump, the working directory, is masked too: a value that starts with `/` may be base64).
    "pwd",
    "secret",
    // `*_key` names that hold secrets; the generic `key` is too common to trigger on.
    "secret_key",
    "secretkey",
    "secret-key",
    "private_key",
    "privatekey",
    "private-key",
    "api_key",
    "apikey",
    "api-key",
    // Every `*_token`, `*Token`, `*-Token` (`access_token`, `GITHUB_TOKEN`, `X-Auth-Token`).
    "token",
];

/// The catalog, in declaration order (ties in the winner rule go to the earlier entry).
pub(crate) const CATALOG: &[Spec] = &[
    // ---- secrets (priority 100+: a secret inside anything else is masked as the secret)
    native(
        open_end(spec(
            "pem_private_key",
            r"(?s)-----BEGIN[A-Z ]{0,30}PRIVATE KEY(?: BLOCK)?-----.*?-----END[A-Z ]{0,30}PRIVATE KEY(?: BLOCK)?-----",
            16384,
            Lit(&["-----BEGIN"]),
            V::None,
            120,
            "PEM private key blocks (RSA, EC, DSA, OpenSSH, PKCS#8) and PGP private key blocks",
        )),
        Matcher::Pem,
    ),
    native(
        unbounded(spec(
            "jwt",
            r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*",
            8192,
            Lit(&["eyJ"]),
            V::Jwt,
            110,
            "JSON Web Tokens (header must decode to JSON with alg/typ)",
        )),
        Matcher::Jwt,
    ),
    native(
        spec(
            "aws_access_key_id",
            r"(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}",
            20,
            Lit(&["AKIA", "ASIA", "ABIA", "ACCA"]),
            V::None,
            110,
            "AWS access key ids",
        ),
        Matcher::Token(Token::AwsKeyId),
    ),
    native(
        value(spec(
            "aws_secret_key",
            r#"(?i:aws_?secret_?access_?key|secretaccesskey)["']?\s{0,3}[:=]\s{0,3}["']?(?P<v>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
            80,
            Assign(&["aws_secret_access_key", "secretaccesskey"]),
            V::None,
            115,
            "AWS secret access keys after an aws_secret_access_key key",
        )),
        Matcher::AwsSecret,
    ),
    native(
        unbounded(spec(
            "github_token",
            r"gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}",
            300,
            Lit(&["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"]),
            V::None,
            110,
            "GitHub tokens: classic, OAuth, app (user/server/refresh), fine-grained",
        )),
        Matcher::Token(Token::Github),
    ),
    native(
        unbounded(spec(
            "gitlab_token",
            r"gl(?:pat|dt|rt|ptt|cbt|ft|imt|agent|oas|soat|ffct)-[A-Za-z0-9_-]{20,}(?:\.[0-9a-z]{9})?|GR1348941[A-Za-z0-9_-]{20,}",
            330,
            Lit(&[
                "glpat-",
                "gldt-",
                "glrt-",
                "glptt-",
                "glcbt-",
                "glft-",
                "glimt-",
                "glagent-",
                "gloas-",
                "glsoat-",
                "glffct-",
                "GR1348941",
            ]),
            V::None,
            110,
            "GitLab personal (also routable, with their `.` checksum), deploy, runner (and runner registration), trigger, CI job, feed, incoming mail, agent, OAuth app, SCIM and feature flag tokens",
        )),
        Matcher::Token(Token::Gitlab),
    ),
    native(
        unbounded(spec(
            "slack_token",
            r"xox[abposre]-[A-Za-z0-9-]{10,}|xapp-[0-9]-[A-Za-z0-9-]{10,}",
            256,
            Lit(&[
                "xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xoxe-", "xapp-",
            ]),
            V::None,
            110,
            "Slack bot, user, app and refresh tokens",
        )),
        Matcher::Token(Token::Slack),
    ),
    native(
        spec(
            "slack_webhook",
            r"hooks\.slack\.com/services/T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{20,32}",
            100,
            Lit(&["hooks.slack.com/services/"]),
            V::None,
            110,
            "Slack incoming webhook URLs",
        ),
        Matcher::Token(Token::SlackWebhook),
    ),
    native(
        unbounded(spec(
            "stripe_key",
            r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{32,}",
            128,
            Lit(&["sk_live_", "rk_live_", "sk_test_", "rk_test_", "whsec_"]),
            V::None,
            110,
            "Stripe secret and restricted keys, webhook signing secrets",
        )),
        Matcher::Token(Token::Stripe),
    ),
    native(
        spec(
            "google_api_key",
            r"AIza[0-9A-Za-z_-]{35}",
            39,
            Lit(&["AIza"]),
            V::None,
            110,
            "Google API keys",
        ),
        Matcher::Token(Token::Google),
    ),
    native(
        spec(
            "twilio_api_key",
            r"SK[0-9a-fA-F]{32}",
            34,
            Lit(&["SK"]),
            V::None,
            105,
            "Twilio API key SIDs",
        ),
        Matcher::Token(Token::Twilio),
    ),
    native(
        spec(
            "sendgrid_api_key",
            r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}",
            69,
            Lit(&["SG."]),
            V::None,
            110,
            "SendGrid API keys",
        ),
        Matcher::Token(Token::Sendgrid),
    ),
    native(
        spec(
            "npm_token",
            r"npm_[A-Za-z0-9]{36}",
            40,
            Lit(&["npm_"]),
            V::None,
            110,
            "npm access tokens",
        ),
        Matcher::Token(Token::Npm),
    ),
    native(
        unbounded(spec(
            "pypi_token",
            r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}",
            512,
            Lit(&["pypi-AgEIcHlwaS5vcmc"]),
            V::None,
            110,
            "PyPI API tokens",
        )),
        Matcher::Token(Token::Pypi),
    ),
    native(
        unbounded(spec(
            "openai_api_key",
            r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}",
            256,
            Lit(&["sk-proj-", "sk-svcacct-", "sk-admin-"]),
            V::None,
            110,
            "OpenAI project and service account keys",
        )),
        Matcher::Token(Token::Openai),
    ),
    native(
        unbounded(spec(
            "anthropic_api_key",
            r"sk-ant-(?:api|admin)[0-9]{2}-[A-Za-z0-9_-]{80,}",
            160,
            Lit(&["sk-ant-"]),
            V::None,
            110,
            "Anthropic API keys",
        )),
        Matcher::Token(Token::Anthropic),
    ),
    native(
        spec(
            "huggingface_token",
            r"hf_[A-Za-z]{34}",
            37,
            Lit(&["hf_"]),
            V::None,
            105,
            "Hugging Face access tokens",
        ),
        Matcher::Token(Token::Huggingface),
    ),
    native(
        spec(
            "shopify_token",
            r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
            38,
            Lit(&["shpat_", "shpca_", "shppa_", "shpss_"]),
            V::None,
            110,
            "Shopify access tokens",
        ),
        Matcher::Token(Token::Shopify),
    ),
    native(
        spec(
            "digitalocean_token",
            r"do[opr]_v1_[a-f0-9]{64}",
            71,
            Lit(&["dop_v1_", "doo_v1_", "dor_v1_"]),
            V::None,
            110,
            "DigitalOcean tokens",
        ),
        Matcher::Token(Token::Digitalocean),
    ),
    native(
        unbounded(spec(
            "vault_token",
            r"hv[sb]\.[A-Za-z0-9_-]{90,}",
            400,
            Lit(&["hvs.", "hvb."]),
            V::None,
            110,
            "HashiCorp Vault service and batch tokens",
        )),
        Matcher::Token(Token::Vault),
    ),
    native(
        spec(
            "grafana_token",
            r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|glc_[A-Za-z0-9+/]{32,400}={0,3}|eyJrIjoi[A-Za-z0-9]{70,400}={0,3}",
            411,
            Lit(&["glsa_", "glc_", "eyJrIjoi"]),
            V::None,
            105,
            "Grafana service account tokens, Grafana Cloud access policy tokens and legacy API keys",
        ),
        Matcher::Token(Token::Grafana),
    ),
    native(
        spec(
            "atlassian_api_token",
            r"ATATT3[A-Za-z0-9_=-]{186}",
            192,
            Lit(&["ATATT3"]),
            V::None,
            105,
            "Atlassian (Jira, Confluence, Bitbucket) API tokens",
        ),
        Matcher::Token(Token::Atlassian),
    ),
    native(
        spec(
            "postman_api_key",
            r"PMAK-[A-Fa-f0-9]{24}-[A-Fa-f0-9]{34}",
            64,
            Lit(&["PMAK-"]),
            V::None,
            105,
            "Postman API keys",
        ),
        Matcher::Token(Token::Postman),
    ),
    native(
        spec(
            "newrelic_api_key",
            r"NRAK-[A-Z0-9]{27}",
            32,
            Lit(&["NRAK-"]),
            V::None,
            105,
            "New Relic user API keys",
        ),
        Matcher::Token(Token::Newrelic),
    ),
    native(
        spec(
            "linear_api_key",
            r"lin_api_[A-Za-z0-9]{40}",
            48,
            Lit(&["lin_api_"]),
            V::None,
            105,
            "Linear API keys",
        ),
        Matcher::Token(Token::Linear),
    ),
    native(
        spec(
            "age_secret_key",
            r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
            74,
            Lit(&["AGE-SECRET-KEY-1"]),
            V::None,
            115,
            "age encryption secret keys",
        ),
        Matcher::Token(Token::Age),
    ),
    native(
        spec(
            "doppler_token",
            r"dp\.(?:pt|st|sa|ct)\.[A-Za-z0-9]{40,64}",
            70,
            Lit(&["dp.pt.", "dp.st.", "dp.sa.", "dp.ct."]),
            V::None,
            105,
            "Doppler personal, service, service account and CLI tokens",
        ),
        Matcher::Token(Token::Doppler),
    ),
    native(
        spec(
            "square_token",
            r"sq0(?:atp|csp)-[A-Za-z0-9_-]{22,60}",
            67,
            Lit(&["sq0atp-", "sq0csp-"]),
            V::None,
            105,
            "Square access tokens and OAuth secrets",
        ),
        Matcher::Token(Token::Square),
    ),
    native(
        spec(
            "pulumi_token",
            r"pul-[a-f0-9]{40}",
            44,
            Lit(&["pul-"]),
            V::None,
            105,
            "Pulumi access tokens",
        ),
        Matcher::Token(Token::Pulumi),
    ),
    native(
        unbounded(spec(
            "google_oauth_token",
            r"ya29\.[A-Za-z0-9_-]{20,}",
            2048,
            Lit(&["ya29."]),
            V::None,
            110,
            "Google OAuth 2.0 access tokens (`ya29.`; up to 2048 bytes)",
        )),
        Matcher::Token(Token::GoogleOauth),
    ),
    native(
        spec(
            "perplexity_api_key",
            r"pplx-[A-Za-z0-9]{48}",
            53,
            Lit(&["pplx-"]),
            V::None,
            110,
            "Perplexity API keys",
        ),
        Matcher::Token(Token::Perplexity),
    ),
    native(
        spec(
            "aws_bedrock_api_key",
            r"ABSK[A-Za-z0-9+/]{109,269}={0,2}",
            275,
            Lit(&["ABSK"]),
            V::None,
            110,
            "Amazon Bedrock long-term API keys",
        ),
        Matcher::Token(Token::Bedrock),
    ),
    native(
        spec(
            "planetscale_token",
            r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_=.-]{31,63}[A-Za-z0-9_=-]",
            77,
            Lit(&["pscale_tkn_", "pscale_pw_", "pscale_oauth_"]),
            V::None,
            110,
            "PlanetScale service tokens, database passwords and OAuth tokens",
        ),
        Matcher::Token(Token::Planetscale),
    ),
    native(
        spec(
            "heroku_api_key",
            r"HRKU-AA[A-Za-z0-9_-]{58}",
            65,
            Lit(&["HRKU-AA"]),
            V::None,
            110,
            "Heroku API keys (`HRKU-`)",
        ),
        Matcher::Token(Token::Heroku),
    ),
    native(
        unbounded(spec(
            "flyio_token",
            r"fo1_[A-Za-z0-9_-]{43}|fm1[ar]_[A-Za-z0-9+/]{100,}={0,3}|fm2_[A-Za-z0-9+/]{100,}={0,3}",
            2048,
            Lit(&["fo1_", "fm1a_", "fm1r_", "fm2_"]),
            V::None,
            110,
            "Fly.io access tokens and macaroons",
        )),
        Matcher::Token(Token::Flyio),
    ),
    native(
        spec(
            "sentry_token",
            r"sntryu_[a-f0-9]{64}|sntrys_eyJ[A-Za-z0-9+/]{10,400}={0,2}_[A-Za-z0-9+/]{43}",
            456,
            Lit(&["sntryu_", "sntrys_eyJ"]),
            V::None,
            110,
            "Sentry user auth tokens and organization tokens",
        ),
        Matcher::Token(Token::Sentry),
    ),
    native(
        spec(
            "notion_token",
            r"ntn_[0-9]{11}[A-Za-z0-9]{35}",
            50,
            Lit(&["ntn_"]),
            V::None,
            110,
            "Notion integration tokens (`ntn_`)",
        ),
        Matcher::Token(Token::Notion),
    ),
    native(
        unbounded(spec(
            "onepassword_token",
            r"ops_eyJ[A-Za-z0-9+/]{250,}={0,3}",
            2048,
            Lit(&["ops_eyJ"]),
            V::None,
            110,
            "1Password service account tokens",
        )),
        Matcher::Token(Token::OnePassword),
    ),
    native(
        spec(
            "alibaba_access_key_id",
            r"LTAI[A-Za-z0-9]{12,20}",
            24,
            Lit(&["LTAI"]),
            V::None,
            110,
            "Alibaba Cloud AccessKey ids",
        ),
        Matcher::Token(Token::Alibaba),
    ),
    native(
        spec(
            "dynatrace_token",
            r"dt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}",
            96,
            Lit(&["dt0c01."]),
            V::None,
            110,
            "Dynatrace API tokens",
        ),
        Matcher::Token(Token::Dynatrace),
    ),
    native(
        spec(
            "brevo_api_key",
            r"(?:xkeysib|xsmtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16}",
            90,
            Lit(&["xkeysib-", "xsmtpsib-"]),
            V::None,
            110,
            "Brevo (Sendinblue) API and SMTP keys",
        ),
        Matcher::Token(Token::Brevo),
    ),
    native(
        spec(
            "rubygems_api_key",
            r"rubygems_[a-f0-9]{48}",
            57,
            Lit(&["rubygems_"]),
            V::None,
            110,
            "RubyGems API keys",
        ),
        Matcher::Token(Token::Rubygems),
    ),
    native(
        headed(
            4,
            spec(
                "azure_ad_client_secret",
                r"[A-Za-z0-9_~.-]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}",
                40,
                Lit(&["Q~"]),
                V::AzureAd,
                110,
                "Microsoft Entra ID (Azure AD) application client secrets",
            ),
        ),
        Matcher::Token(Token::AzureAd),
    ),
    native(
        spec(
            "openshift_token",
            r"sha256~[A-Za-z0-9_-]{43}",
            50,
            Lit(&["sha256~"]),
            V::Openshift,
            110,
            "OpenShift OAuth access tokens (`oc whoami -t`)",
        ),
        Matcher::Token(Token::Openshift),
    ),
    native(
        spec(
            "discord_webhook",
            r"discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_-]{60,68}",
            118,
            Lit(&["discord.com/api/webhooks/", "discordapp.com/api/webhooks/"]),
            V::None,
            110,
            "Discord webhook URLs (whoever holds one can post to the channel)",
        ),
        Matcher::Token(Token::DiscordWebhook),
    ),
    native(
        spec(
            "teams_webhook",
            r"webhook\.office\.com/webhookb2/[0-9a-f-]{36}@[0-9a-f-]{36}/IncomingWebhook/[0-9a-f]{32}/[0-9a-f-]{36}(?:/V2[A-Za-z0-9_-]{20,80})?",
            272,
            Lit(&["webhook.office.com/webhookb2/"]),
            V::None,
            110,
            "Microsoft Teams incoming webhook URLs",
        ),
        Matcher::Token(Token::TeamsWebhook),
    ),
    native(
        headed(
            14,
            spec(
                "terraform_cloud_token",
                r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}",
                93,
                Lit(&[".atlasv1."]),
                V::None,
                110,
                "Terraform Cloud and Enterprise API tokens",
            ),
        ),
        Matcher::Token(Token::Terraform),
    ),
    native(
        spec(
            "mapbox_secret_token",
            r"sk\.eyJ[A-Za-z0-9_-]{20,300}\.[A-Za-z0-9_-]{20,30}",
            337,
            Lit(&["sk.eyJ"]),
            V::None,
            105,
            "Mapbox secret access tokens (`sk.`; public `pk.` tokens are left alone)",
        ),
        Matcher::Token(Token::Mapbox),
    ),
    native(
        spec(
            "artifactory_token",
            r"AKCp[A-Za-z0-9]{69}|cmVmdGtuOjAx[A-Za-z0-9]{52}",
            73,
            Lit(&["AKCp", "cmVmdGtuOjAx"]),
            V::None,
            110,
            "JFrog Artifactory API keys and reference tokens",
        ),
        Matcher::Token(Token::Artifactory),
    ),
    native(
        spec(
            "sonarqube_token",
            r"sq[upa]_[a-f0-9]{40}",
            44,
            Lit(&["squ_", "sqp_", "sqa_"]),
            V::None,
            105,
            "SonarQube user, project and global analysis tokens",
        ),
        Matcher::Token(Token::Sonarqube),
    ),
    native(
        spec(
            "sourcegraph_token",
            r"sgp_(?:[a-fA-F0-9]{16}|local)_[a-fA-F0-9]{40}|sgp_[a-fA-F0-9]{40}",
            61,
            Lit(&["sgp_"]),
            V::None,
            105,
            "Sourcegraph access tokens",
        ),
        Matcher::Token(Token::Sourcegraph),
    ),
    native(
        spec(
            "prefect_api_key",
            r"pnu_[A-Za-z0-9]{36}",
            40,
            Lit(&["pnu_"]),
            V::None,
            105,
            "Prefect API keys",
        ),
        Matcher::Token(Token::Prefect),
    ),
    native(
        spec(
            "shippo_api_key",
            r"shippo_(?:live|test)_[a-fA-F0-9]{40}",
            52,
            Lit(&["shippo_live_", "shippo_test_"]),
            V::None,
            105,
            "Shippo API keys",
        ),
        Matcher::Token(Token::Shippo),
    ),
    native(
        spec(
            "scalingo_api_token",
            r"tk-us-[A-Za-z0-9_-]{48}",
            54,
            Lit(&["tk-us-"]),
            V::None,
            105,
            "Scalingo API tokens",
        ),
        Matcher::Token(Token::Scalingo),
    ),
    native(
        spec(
            "infracost_api_key",
            r"ico-[A-Za-z0-9]{32}",
            36,
            Lit(&["ico-"]),
            V::None,
            105,
            "Infracost API keys",
        ),
        Matcher::Token(Token::Infracost),
    ),
    native(
        spec(
            "typeform_api_key",
            r"tfp_[A-Za-z0-9_.=-]{59}",
            63,
            Lit(&["tfp_"]),
            V::None,
            105,
            "Typeform personal access tokens",
        ),
        Matcher::Token(Token::Typeform),
    ),
    native(
        spec(
            "clojars_token",
            r"CLOJARS_[a-z0-9]{60}",
            68,
            Lit(&["CLOJARS_"]),
            V::None,
            105,
            "Clojars deploy tokens",
        ),
        Matcher::Token(Token::Clojars),
    ),
    native(
        spec(
            "duffel_api_key",
            r"duffel_(?:test|live)_[A-Za-z0-9_=-]{43}",
            55,
            Lit(&["duffel_test_", "duffel_live_"]),
            V::None,
            105,
            "Duffel API access tokens",
        ),
        Matcher::Token(Token::Duffel),
    ),
    native(
        spec(
            "easypost_api_key",
            r"EZ[AT]K[A-Za-z0-9]{54}",
            58,
            Lit(&["EZAK", "EZTK"]),
            V::None,
            105,
            "EasyPost production and test API keys",
        ),
        Matcher::Token(Token::Easypost),
    ),
    native(
        spec(
            "flutterwave_secret_key",
            r"FLWSECK(?:_TEST)?-[a-hA-H0-9]{32}-X",
            47,
            Lit(&["FLWSECK"]),
            V::None,
            105,
            "Flutterwave secret keys",
        ),
        Matcher::Token(Token::Flutterwave),
    ),
    native(
        spec(
            "frameio_token",
            r"fio-u-[A-Za-z0-9_=-]{64}",
            70,
            Lit(&["fio-u-"]),
            V::None,
            105,
            "Frame.io developer tokens",
        ),
        Matcher::Token(Token::Frameio),
    ),
    native(
        word_start(value(spec(
            "url_signature",
            r"(?i:sig|signature|x-amz-signature|x-goog-signature)=(?P<v>[A-Za-z0-9%+/_~-]{16,1024}={0,2})",
            1043,
            Assign(&["sig", "signature", "x-amz-signature", "x-goog-signature"]),
            V::None,
            105,
            "signatures of signed URLs, which grant access to whoever holds the URL: Azure SAS (sig=), S3 and GCS presigned URLs, CloudFront (Signature=)",
        ))),
        Matcher::UrlSignature,
    ),
    native(
        value(spec(
            "azure_storage_key",
            r"AccountKey=(?P<v>[A-Za-z0-9+/]{86}==)",
            110,
            Lit(&["AccountKey="]),
            V::None,
            110,
            "Azure storage account keys in connection strings",
        )),
        Matcher::AzureKey,
    ),
    native(
        value(spec(
            "uri_password",
            r"://[^:/@\s]{0,128}:(?P<v>[^\s/]{1,256})@",
            400,
            Lit(&["://"]),
            V::UriPassword,
            105,
            "passwords inside connection URIs (scheme://user:PASSWORD@host, the user may be empty)",
        )),
        Matcher::UriPassword,
    ),
    native(
        value(spec(
            "password_assignment",
            r#"(?i:password|passwd|passphrase|pwd|secret[_-]?key|secret|private[_-]?key|api[_-]?key|token)["']?(?:\s{0,3}(?::|=|=>)|>)[ \t]{0,3}(?P<v>"(?:[^"\\\n]|\\.){1,256}"|'(?:[^'\\\n]|\\.){1,256}'|["']?[^\s"',;&<>]{1,256})"#,
            300,
            Assign(ASSIGN_LITERALS),
            V::Assigned,
            100,
            "values of password=, secret:, api_key=, *_token=, pwd= style assignments (a config line's to its end), X-Api-Key: headers and XML elements (<password>...</password>)",
        )),
        Matcher::Assignment,
    ),
    native(
        spec(
            "password_hash",
            concat!(
                r"\$2[abxy]\$(?:0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}",
                r"|\$argon2(?:id|i|d)\$v=[0-9]{1,3}\$m=[0-9]{1,10},t=[0-9]{1,10},p=[0-9]{1,3}\$[A-Za-z0-9+/]{11,88}\$[A-Za-z0-9+/]{22,88}",
                r"|SCRAM-SHA-256\$[0-9]{1,10}:[A-Za-z0-9+/]{16,88}={0,2}\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=",
                r"|pbkdf2_sha(?:256|1)\$[0-9]{1,10}\$[A-Za-z0-9./]{1,64}\$[A-Za-z0-9+/]{27,88}={0,2}",
                r"|\$1\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22}",
                r"|\$5\$(?:rounds=[0-9]{1,9}\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43}",
                r"|\$6\$(?:rounds=[0-9]{1,9}\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{86}",
                r"|\$y\$[./A-Za-z0-9]{1,64}\$[./A-Za-z0-9]{1,86}\$[./A-Za-z0-9]{43}",
            ),
            320,
            Lit(&[
                "$2a$",
                "$2b$",
                "$2x$",
                "$2y$",
                "$argon2",
                "SCRAM-SHA-256$",
                "pbkdf2_sha",
                "$1$",
                "$5$",
                "$6$",
                "$y$",
            ]),
            V::None,
            101,
            "password hashes: bcrypt, Argon2, PostgreSQL SCRAM-SHA-256 verifiers, Django PBKDF2, \
         crypt(3) MD5/SHA-256/SHA-512/yescrypt (offline cracking material)",
        ),
        Matcher::PasswordHash,
    ),
    native(
        value(spec(
            "sql_password",
            r"(?:PASSWORD|[Pp]assword|IDENTIFIED BY|[Ii]dentified [Bb]y) (?P<v>'(?:[^'\n]|''){1,256}')",
            540,
            Lit(&[
                "PASSWORD '",
                "Password '",
                "password '",
                "IDENTIFIED BY '",
                "Identified by '",
                "Identified By '",
                "identified by '",
                "identified By '",
            ]),
            V::SecretValue,
            100,
            "passwords in SQL text: PostgreSQL's CREATE/ALTER ROLE ... PASSWORD '...', MySQL's \
         IDENTIFIED BY '...' (statement logs, migration scripts, shell history)",
        )),
        Matcher::SqlPassword,
    ),
    native(
        value(spec(
            "http_authorization",
            r#"(?i:authorization)["']?\s{0,3}[:=]\s{0,3}["']?(?i:bearer|basic|token)\s{1,3}(?P<v>[A-Za-z0-9._~+/=-]{8,960})"#,
            1000,
            Assign(&["authorization"]),
            V::SecretValue,
            99,
            "credentials of HTTP Authorization headers (Bearer, Basic, token schemes)",
        )),
        Matcher::Authorization,
    ),
    // ---- financial and national identifiers
    native(
        spec(
            "credit_card",
            r"[0-9](?:[ -]?[0-9]){11,18}",
            40,
            Digit(Shape::Card),
            V::Card,
            90,
            "payment cards: Visa, Mastercard, Amex, Discover, JCB, Maestro, UnionPay, Diners; Luhn",
        ),
        Matcher::Card,
    ),
    native(
        value(spec(
            "card_security_code",
            r#"(?i:cvv2?|cvc2?|security[ _]?code)["']?\s{0,3}[:=][ \t]{0,3}["']?(?P<v>[0-9]{3,4})(?:[^0-9A-Za-z]|$)"#,
            40,
            Assign(&[
                "cvv",
                "cvv2",
                "cvc",
                "cvc2",
                "security code",
                "security_code",
                "securitycode",
            ]),
            V::None,
            90,
            "card security codes after a CVV/CVC/security code key (PCI DSS: never kept)",
        )),
        Matcher::CardCode,
    ),
    native(
        spec(
            "iban",
            r"[A-Z]{2}[0-9]{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)",
            44,
            LetterDigit,
            V::Iban,
            95,
            "IBAN: country length and mod-97",
        ),
        Matcher::Iban,
    ),
    native(
        spec(
            "us_ssn",
            r"[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3} [0-9]{2} [0-9]{4}|[0-9]{9}",
            11,
            Digit(Shape::Nine),
            V::Ssn,
            80,
            "US SSN (no 000/666/9xx area, 00 group, 0000 serial); plain 9 digits need an 'ssn' context word",
        ),
        Matcher::Ssn,
    ),
    native(
        spec(
            "us_itin",
            r"9[0-9]{2}-[0-9]{2}-[0-9]{4}|9[0-9]{2} [0-9]{2} [0-9]{4}|9[0-9]{8}",
            11,
            Digit(Shape::Nine),
            V::Itin,
            80,
            "US ITIN (9xx, group 50-65/70-88/90-92/94-99)",
        ),
        Matcher::Itin,
    ),
    native(
        spec(
            "us_routing_number",
            r"[0-9]{9}",
            9,
            Digit(Shape::Nine),
            V::Aba,
            75,
            "US ABA routing numbers (checksum) after a context word (routing, ABA, RTN)",
        ),
        Matcher::Nine,
    ),
    native(
        spec(
            "us_ein",
            r"[0-9]{2}-[0-9]{7}",
            10,
            Digit(Shape::Nine),
            V::Ein,
            75,
            "US employer identification numbers after a context word (EIN, tax id)",
        ),
        Matcher::Ein,
    ),
    native(
        spec(
            "uk_nino",
            r"[A-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]",
            13,
            LetterDigit,
            V::Nino,
            75,
            "UK National Insurance numbers",
        ),
        Matcher::Nino,
    ),
    // ---- contact and network
    native(
        unbounded(spec(
            "email",
            r"[A-Za-z0-9_%+\xC3-\xC9-][A-Za-z0-9._%+\x80-\xBF\xC3-\xC9-]{0,63}(?:@|%40)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}",
            330,
            At,
            V::None,
            70,
            "e-mail addresses (plus-addressing, subdomains, accented Latin letters in the local part; URL-encoded `%40` too)",
        )),
        Matcher::Email,
    ),
    native(
        spec(
            "phone",
            r"(?:\+1[-. ]?|1[-. ]|001[-. ])?(?:\([0-9]{3}\) ?|[0-9]{3}[-. ])[0-9]{3}[-. ][0-9]{4}(?: ?(?:x|ext\.?|extension) ?[0-9]{1,6})?|\+[1-9][0-9]{0,14}(?: ?\(0\) ?[0-9]{1,12})?(?:[ .-][0-9]{1,12}){0,5}|0[1-9](?: [0-9]{2}){4}|0[1-9](?:\.[0-9]{2}){4}|0[1-9](?:-[0-9]{2}){4}",
            100,
            Phone,
            V::Phone,
            60,
            "phone numbers: NANP formats with extensions (also after +1, 1 or 001); international numbers after + (grouped with spaces, dashes or dots, with a (0) trunk prefix); French numbers in five pairs (06 12 34 56 78)",
        ),
        Matcher::Phone,
    ),
    native(
        spec(
            "ipv4",
            r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])",
            15,
            Digit(Shape::Ipv4),
            V::None,
            50,
            "IPv4 addresses",
        ),
        Matcher::Ipv4,
    ),
    native(
        spec(
            "ipv6",
            r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}",
            39,
            Colon,
            V::Ipv6,
            50,
            "IPv6 addresses (full and compressed)",
        ),
        Matcher::Ipv6,
    ),
    native(
        spec(
            "mac_address",
            r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{4}(?:\.[0-9A-Fa-f]{4}){2}",
            17,
            Mac,
            V::Mac,
            50,
            "MAC addresses (colon or dash separated pairs, Cisco's dotted groups of four)",
        ),
        Matcher::Mac,
    ),
];

/// Names of the built-in detectors, in catalog order.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    CATALOG.iter().map(|s| s.name)
}

/// A one-line description of a built-in detector, or `None` for an unknown name.
pub fn describe(name: &str) -> Option<&'static str> {
    CATALOG.iter().find(|s| s.name == name).map(|s| s.about)
}

/// A built-in detector's regex (without its validator), for tools that compare engines.
pub fn builtin_regex(name: &str) -> Option<&'static str> {
    CATALOG.iter().find(|s| s.name == name).map(|s| s.regex)
}

#[cfg(test)]
mod tests {
    use super::CATALOG;

    /// A `Masker` does not compile the regexes of built-ins with a matcher, so nothing else
    /// would notice one that stopped compiling (`builtin_regex` publishes them).
    #[test]
    fn every_builtin_regex_compiles() {
        for s in CATALOG {
            regex_automata::meta::Builder::new()
                .syntax(crate::masker::byte_syntax())
                .build(s.regex)
                .unwrap_or_else(|e| panic!("{}: {e}", s.name));
        }
    }

    /// `unbounded` says exactly which regexes have no longest match (the engine skips the
    /// end-boundary test of a match cut at `max_len` for those only), and `max_len` covers
    /// the longest match of the others.
    #[test]
    fn unbounded_marks_the_regexes_without_a_longest_match() {
        for s in CATALOG.iter().filter(|s| s.end_boundary) {
            let hir = regex_syntax::ParserBuilder::new()
                .utf8(false)
                .build()
                .parse(s.regex)
                .unwrap_or_else(|e| panic!("{}: {e}", s.name));
            let longest = hir.properties().maximum_len();
            assert_eq!(s.unbounded, longest.is_none(), "{}", s.name);
            if let Some(n) = longest {
                assert!(
                    n <= s.max_len,
                    "{}: longest {n} > max_len {}",
                    s.name,
                    s.max_len
                );
            }
        }
    }
}
