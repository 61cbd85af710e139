# `terraform test` (offline): a mocked apply of the network, with and without DR.
mock_provider "aws" {
  mock_data "aws_kms_alias" {
    defaults = { target_key_arn = "arn:aws:kms:us-east-1:123456789012:key/mrk-0123" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/convert-all-flow" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:/vpc/convert-all/flow" }
  }
}

mock_provider "aws" {
  alias = "dr"
  mock_data "aws_kms_alias" {
    defaults = { target_key_arn = "arn:aws:kms:us-west-2:123456789012:key/mrk-0123" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-west-2" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/convert-all-flow" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-west-2:123456789012:log-group:/vpc/convert-all/flow" }
  }
}

run "primary" {
  command = apply # against the mocked provider: nothing leaves this machine

  assert {
    condition     = length(module.network.security_group_ids) == 6
    error_message = "six security groups"
  }
  assert {
    condition     = length(local.cloudflare_ipv4) == 15 && length(local.cloudflare_ipv6) == 7
    error_message = "the Cloudflare list splits into 15 IPv4 and 7 IPv6 ranges"
  }
  assert {
    condition     = length(module.network.private_subnet_ids) == 2 && length(module.network.data_subnet_ids) == 2 && length(module.network.public_subnet_ids) == 2
    error_message = "two subnets of each tier"
  }
  assert {
    condition     = length(module.network.nat_public_ips) == 2
    error_message = "one NAT gateway per AZ"
  }
  assert {
    condition     = output.dr == null
    error_message = "no DR network by default"
  }
}

run "with_dr" {
  command = apply
  variables {
    dr_enabled = true
  }
  assert {
    condition     = length(output.dr.data_subnet_ids) == 2 && length(module.network_dr[0].nat_public_ips) == 0
    error_message = "the DR network has its data subnets and no NAT until activation"
  }
}
