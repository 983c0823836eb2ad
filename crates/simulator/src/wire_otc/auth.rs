//! Authentication of the OTC / Huawei routes: an IAM token scoped to the URL's project, or an
//! AK/SK `SDK-HMAC-SHA256` signature; the project selects the region.

use super::*;

impl Wire {
    /// Checks the token or AK/SK signature; with `project_id`, returns its region.
    pub(super) fn authenticate(&self, req: &Req, project_id: Option<&str>) -> Result<Option<String>, Box<Response>> {
        let request_id = self.request_id();
        let refuse = |message: &str| {
            Err(Box::new(gateway_error(
                StatusCode::UNAUTHORIZED,
                "APIGW.0301",
                message,
                &request_id,
            )))
        };
        if let Some(token) = req.header("x-auth-token") {
            let now = Instant::now();
            let state = self.lock();
            let Some(issued) = state.tokens.get(token).filter(|t| t.expires > now) else {
                return refuse("Incorrect IAM authentication information: the token is invalid or expired");
            };
            if let Some(project) = project_id
                && issued.project_id != project
            {
                return refuse("Incorrect IAM authentication information: the token is scoped to another project");
            }
        } else if let Some(authorization) = req.header("authorization") {
            let Some(auth) = signing::parse_authorization(authorization) else {
                return refuse("Incorrect IAM authentication information: unsupported Authorization header");
            };
            let config = self.sim.config();
            let Some(key) = config.auth.access_keys.iter().find(|k| k.id == auth.access_key) else {
                return refuse("Incorrect IAM authentication information: unknown access key");
            };
            if !auth.signed_headers.iter().any(|h| h == "host") {
                return refuse("Incorrect IAM authentication information: the host header must be signed");
            }
            let Some(date) = req
                .header(signing::HEADER_DATE)
                .and_then(|d| jiff::civil::DateTime::strptime(signing::DATE_FORMAT, d).ok())
                .and_then(|d| jiff::tz::Offset::UTC.to_timestamp(d).ok())
            else {
                return refuse("Incorrect IAM authentication information: missing or malformed X-Sdk-Date");
            };
            if Timestamp::now().duration_since(date).as_secs().abs() > MAX_CLOCK_SKEW_SECS {
                return refuse("Incorrect IAM authentication information: X-Sdk-Date is more than 15 minutes off");
            }
            let headers: Vec<(String, String)> = req
                .headers
                .iter()
                .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str().to_owned(), v.to_owned())))
                .collect();
            let query = req.query();
            let input = SignInput {
                method: req.method.as_str(),
                path: req.uri.path(),
                query: &query,
                headers: &headers,
                body: &req.body,
            };
            if !signing::same_signature(&signing::expected_signature(&key.secret, &auth, &input), &auth.signature) {
                return refuse("Incorrect IAM authentication information: verify aksk signature fail");
            }
            if let (Some(project), Some(header)) = (project_id, req.header("x-project-id"))
                && header != project
            {
                return refuse("Incorrect IAM authentication information: X-Project-Id does not match the URL");
            }
        } else {
            return refuse("Incorrect IAM authentication information: Authorization or X-Auth-Token header missing");
        }
        match project_id {
            None => Ok(None),
            Some(project) => {
                let config = self.sim.config();
                let region = config
                    .auth
                    .projects
                    .iter()
                    .find(|p| p.id == project)
                    .map(|p| p.region.clone())
                    .filter(|region| self.sim.regions().iter().any(|r| r.name == *region && r.flavor == Flavor::Otc));
                match region {
                    Some(region) => Ok(Some(region)),
                    None => Err(Box::new(gateway_error(
                        StatusCode::NOT_FOUND,
                        "APIGW.0101",
                        "The API does not exist or has not been published in the environment (unknown project)",
                        &request_id,
                    ))),
                }
            }
        }
    }

    /// Authenticates a route on the EIP `id` (at most [`MAX_ID_LEN`] bytes) and resolves the
    /// provider of its region (`v3`: the region must offer v3).
    pub(super) fn eip_route(&self, req: &Req, project_id: &str, id: &str, v3: bool) -> Result<SimulatorProvider, Refused> {
        let region = self.region(req, project_id, v3)?;
        check_id("publicip_id", id)?;
        Ok(self.sim.provider(&region)?)
    }

    /// Authenticates an EIP route and resolves its region (`v3`: the region must offer v3).
    pub(super) fn region(&self, req: &Req, project_id: &str, v3: bool) -> Result<String, Box<Response>> {
        let region = self.authenticate(req, Some(project_id))?.unwrap_or_default();
        if v3 && NO_V3_REGIONS.contains(&region.as_str()) {
            return Err(Box::new(gateway_error(
                StatusCode::NOT_FOUND,
                "APIGW.0101",
                "The API does not exist or has not been published in the environment",
                &self.request_id(),
            )));
        }
        Ok(region)
    }
}
