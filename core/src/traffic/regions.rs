//! Where the AWS regions are, for estimating which region a user is nearest to.
//!
//! Route53 answers a latency record set with the region that has the lowest latency from the
//! resolver, from latency measurements AWS does not publish. fleetplan estimates it from
//! distance: each region's location is the metropolitan area AWS names for it on its
//! "Regions and Availability Zones" page (Oregon for `us-west-2`, Ireland for `eu-west-1`, and
//! so on), as latitude and longitude of that area's main city (or, for `us-west-2` and
//! `us-east-1`, of the data-centre towns Boardman and Ashburn), rounded to 0.1 degree. The
//! estimated round trip is the great-circle distance over 100 km per millisecond (light in
//! fibre covers about 200 km per millisecond each way). Real latency follows the cables, not
//! the great circle, so two regions at nearly equal distance may rank the other way in
//! Route53; the ranking of regions on different continents holds.

/// `(region, latitude, longitude)` of every commercial and GovCloud region.
const REGIONS: &[(&str, f64, f64)] = &[
    ("af-south-1", -33.9, 18.4),      // Cape Town
    ("ap-east-1", 22.3, 114.2),       // Hong Kong
    ("ap-east-2", 25.0, 121.5),       // Taipei
    ("ap-northeast-1", 35.7, 139.7),  // Tokyo
    ("ap-northeast-2", 37.6, 127.0),  // Seoul
    ("ap-northeast-3", 34.7, 135.5),  // Osaka
    ("ap-south-1", 19.1, 72.9),       // Mumbai
    ("ap-south-2", 17.4, 78.5),       // Hyderabad
    ("ap-southeast-1", 1.4, 103.8),   // Singapore
    ("ap-southeast-2", -33.9, 151.2), // Sydney
    ("ap-southeast-3", -6.2, 106.8),  // Jakarta
    ("ap-southeast-4", -37.8, 145.0), // Melbourne
    ("ap-southeast-5", 3.1, 101.7),   // Kuala Lumpur
    ("ap-southeast-6", -36.8, 174.8), // Auckland
    ("ap-southeast-7", 13.8, 100.5),  // Bangkok
    ("ca-central-1", 45.5, -73.6),    // Montreal
    ("ca-west-1", 51.0, -114.1),      // Calgary
    ("eu-central-1", 50.1, 8.7),      // Frankfurt
    ("eu-central-2", 47.4, 8.5),      // Zurich
    ("eu-north-1", 59.3, 18.1),       // Stockholm
    ("eu-south-1", 45.5, 9.2),        // Milan
    ("eu-south-2", 41.6, -0.9),       // Aragon (Zaragoza)
    ("eu-west-1", 53.3, -6.3),        // Ireland (Dublin)
    ("eu-west-2", 51.5, -0.1),        // London
    ("eu-west-3", 48.9, 2.4),         // Paris
    ("il-central-1", 32.1, 34.8),     // Tel Aviv
    ("me-central-1", 25.2, 55.3),     // UAE (Dubai)
    ("me-south-1", 26.1, 50.6),       // Bahrain
    ("mx-central-1", 20.6, -100.4),   // Querétaro
    ("sa-east-1", -23.5, -46.6),      // São Paulo
    ("us-east-1", 39.0, -77.5),       // N. Virginia (Ashburn)
    ("us-east-2", 40.0, -83.0),       // Ohio (Columbus)
    ("us-gov-east-1", 40.0, -83.0),   // GovCloud US-East (Ohio)
    ("us-gov-west-1", 45.6, -121.2),  // GovCloud US-West (Oregon)
    ("us-west-1", 37.4, -122.0),      // N. California (San Jose)
    ("us-west-2", 45.8, -119.7),      // Oregon (Boardman)
];

/// Every region the table knows, by name.
pub fn known_regions() -> impl Iterator<Item = &'static str> {
    REGIONS.iter().map(|r| r.0)
}

fn location(region: &str) -> Option<(f64, f64)> {
    REGIONS
        .binary_search_by(|r| r.0.cmp(region))
        .ok()
        .map(|i| (REGIONS[i].1, REGIONS[i].2))
}

/// The estimated round trip in milliseconds between a user in region `from` and region
/// `to` (see the module documentation); `None` when either is not an AWS region.
pub fn estimated_rtt_ms(from: &str, to: &str) -> Option<f64> {
    let (a, b) = (location(from)?, location(to)?);
    const EARTH_RADIUS_KM: f64 = 6371.0;
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let (dlat, dlon) = ((b.0 - a.0).to_radians(), (b.1 - a.1).to_radians());
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    let km = 2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin();
    Some(km / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_each_region_is_nearest_to_itself() {
        assert!(
            REGIONS.windows(2).all(|w| w[0].0 < w[1].0),
            "sorted for binary search"
        );
        for region in known_regions() {
            assert_eq!(estimated_rtt_ms(region, region), Some(0.0));
        }
        assert_eq!(estimated_rtt_ms("mars-1", "us-west-2"), None);
    }

    #[test]
    fn distances_rank_regions_as_geography_does() {
        let rtt = |a, b| estimated_rtt_ms(a, b).expect("known");
        // Dublin to London is short; Dublin to Oregon crosses the Atlantic and a continent.
        assert!(rtt("eu-west-1", "eu-west-2") < 10.0);
        assert!(rtt("eu-west-1", "us-east-1") < rtt("eu-west-1", "us-west-2"));
        assert!(
            (70.0..85.0).contains(&rtt("eu-west-1", "us-west-2")),
            "{}",
            rtt("eu-west-1", "us-west-2")
        );
        assert_eq!(rtt("us-west-2", "eu-west-1"), rtt("eu-west-1", "us-west-2"));
        assert!(rtt("ap-southeast-2", "ap-southeast-4") < rtt("ap-southeast-2", "ap-southeast-1"));
    }
}
