"""Notification texts in the recipient's language and units, times in its time zone.

Each event type has a title and a body per language; the body's fields come from the
payload, with weights converted to the recipient's units and times shown in its zone
(Babel formats both, and money in its currency). An event type without a text of its own
gets a plain generic one. Codes inside a text (a production stage, a scan step, a claim's
basis) are shown as words of the recipient's language, never as the code. A text the
mill's staff read may differ from the customer's (``MILL_TEXTS``): the customer reads
"your urge", the mill "the urge".
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel import Locale as BabelLocale
from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal

from domain.push.locale import Locale

# Parsed once: parsing a locale costs more than formatting with it.
_BABEL = {"en": BabelLocale.parse("en"), "zh": BabelLocale.parse("zh_Hans_CN")}

# event type -> language -> (title, body); {fields} come from the payload.
TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "preferences.changed": {
        "en": ("Preferences changed",
               "Language, units, time zone or currency were changed at {at}."),
        "zh": ("偏好设置已更改", "语言、单位、时区或币种已于 {at} 更改。"),
    },
    "production.milestone_reached": {
        "en": ("Contract {contract}: {stage} finished",
               "Stage {stage} of contract {contract} finished with {tonnes} at {at}."),
        "zh": ("合同 {contract}：{stage} 完成",
               "合同 {contract} 的 {stage} 工序已于 {at} 完成，{tonnes}。"),
    },
    "contract_line.predicted_late": {
        "en": ("Contract {contract} predicted late",
               "Contract {contract} is now predicted {late_days} day(s) late; expected "
               "delivery {predicted_delivery}."),
        "zh": ("合同 {contract} 预计延期",
               "合同 {contract} 预计延期 {late_days} 天，预计交货 {predicted_delivery}。"),
    },
    "quality.certificate_issued": {
        "en": ("Certificate {certificate} issued",
               "Quality certificate {certificate} was issued for coil {coil} (heat {heat}) "
               "at {at}."),
        "zh": ("质保书 {certificate} 已签发",
               "钢卷 {coil}（炉号 {heat}）的质保书 {certificate} 已于 {at} 签发。"),
    },
    "quality.spec_limits_changed": {
        "en": ("Limits of spec {code} changed",
               "The limits that certificates of spec {code} are checked against changed at "
               "{at}."),
        "zh": ("规格 {code} 的标准限值已变更",
               "规格 {code} 的质保书校验限值已于 {at} 变更。"),
    },
    "shipment.departed": {
        "en": ("Shipment {shipment} departed", "Shipment {shipment} departed at {at}."),
        "zh": ("运单 {shipment} 已发运",
               "运单 {shipment} 已于 {at} 发运。"),
    },
    "shipment.arrived": {
        "en": ("Shipment {shipment} arrived", "Shipment {shipment} arrived at {at}."),
        "zh": ("运单 {shipment} 已到达",
               "运单 {shipment} 已于 {at} 到达。"),
    },
    "shipment.delayed": {
        "en": ("Shipment {shipment} delayed",
               "Shipment {shipment} is expected at {eta}, {delay_hours} h after the promised "
               "{promised_by}."),
        "zh": ("运单 {shipment} 延误",
               "运单 {shipment} 预计 {eta} 到达，比承诺的 {promised_by} 晚 {delay_hours} 小时。"),
    },
    "shipment.back_on_time": {
        "en": ("Shipment {shipment} back on time",
               "Shipment {shipment} is expected at {eta}, in time for {promised_by}."),
        "zh": ("运单 {shipment} 恢复准时",
               "运单 {shipment} 预计 {eta} 到达，可在 {promised_by} 前送达。"),
    },
    # Scan anomalies: the mill's staff hear of them (they may name another's coil).
    "shipment.scan_far_from_vehicle": {
        "en": ("Scan anomaly: {code} scanned far from its vehicle",
               "Coil {code} was scanned ({step}) at {at}, {distance_km} km from its "
               "vehicle's last position."),
        "zh": ("扫描异常：{code} 扫描位置远离车辆",
               "钢卷 {code} 于 {at} 扫描（{step}），距车辆最近位置 {distance_km} 公里。"),
    },
    "shipment.coil_not_on_manifest": {
        "en": ("Scan anomaly: {code} not on the manifest",
               "Coil {code} was scanned ({step}) at {at} on a vehicle none of whose legs "
               "carries it."),
        "zh": ("扫描异常：{code} 不在装运清单上",
               "钢卷 {code} 于 {at} 扫描（{step}），但该车辆的运段均不载此卷。"),
    },
    "shipment.blocked_coil_loaded": {
        "en": ("Scan anomaly: blocked coil {code} loaded",
               "Coil {code} is on quality hold and was scanned ({step}) at {at}: it should "
               "not be leaving."),
        "zh": ("扫描异常：封存钢卷 {code} 被装车",
               "钢卷 {code} 处于质量封存状态，却于 {at} 被扫描（{step}），不应发出。"),
    },
    "shipment.unknown_coil": {
        "en": ("Scan anomaly: unknown code {code}",
               "Code {code}, scanned ({step}) at {at}, names no known coil."),
        "zh": ("扫描异常：未知编码 {code}",
               "于 {at} 扫描（{step}）的编码 {code} 不对应任何已知钢卷。"),
    },
    # A coil scanned at a site its shipment is not bound for (the scan moved nothing).
    "shipment.scan_off_route": {
        "en": ("Scan anomaly: {code} scanned off its route",
               "Coil {code} was scanned ({step}) at {at} at a site its shipment is not bound "
               "for; where the coil is was left unchanged."),
        "zh": ("扫描异常：{code} 在运输路线外被扫描",
               "钢卷 {code} 于 {at} 在其运单不经过的地点被扫描（{step}），钢卷位置未作变更。"),
    },
    "bulletin.published": {
        "en": ("New from the mill: {title}", "{summary}"),
        "zh": ("钢厂新资讯：{title}",
               "{summary}"),
    },
    "urge.opened": {
        "en": ("Urge on contract {contract}",
               "Line {lineNo} of contract {contract} was urged at {at} ({ticket}): needed "
               "by {neededBy}."),
        "zh": ("合同 {contract} 催货",
               "合同 {contract} 第 {lineNo} 行于 {at} 被催货（{ticket}）：需在 {neededBy} "
               "前交付。"),
    },
    "urge.acknowledged": {
        "en": ("Urge {ticket} acknowledged",
               "The mill acknowledged your urge {ticket} on line {lineNo} of contract "
               "{contract} at {at}; a promised date follows."),
        "zh": ("催货 {ticket} 已受理",
               "钢厂已于 {at} 受理您对合同 {contract} 第 {lineNo} 行的催货 {ticket}，"
               "随后将承诺交货日期。"),
    },
    "urge.promised": {
        "en": ("Urge {ticket}: delivery promised for {promisedDate}",
               "The mill promised line {lineNo} of contract {contract} for {promisedDate} "
               "(you need it by {neededBy}); answered at {at}."),
        "zh": ("催货 {ticket}：承诺 {promisedDate} 交货",
               "钢厂承诺合同 {contract} 第 {lineNo} 行于 {promisedDate} 交货"
               "（您的需求日期 {neededBy}），答复时间 {at}。"),
    },
    "urge.resolved": {
        "en": ("Urge {ticket} resolved",
               "Your urge {ticket} on line {lineNo} of contract {contract} was resolved at "
               "{at}: {note}"),
        "zh": ("催货 {ticket} 已解决",
               "您对合同 {contract} 第 {lineNo} 行的催货 {ticket} 已于 {at} 解决：{note}"),
    },
    "urge.escalated": {
        "en": ("Urge {ticket} escalated",
               "The urge {ticket} on line {lineNo} of contract {contract} was not answered "
               "in time and went to the next person (level {level}) at {at}."),
        "zh": ("催货 {ticket} 已升级",
               "合同 {contract} 第 {lineNo} 行的催货 {ticket} 未按时答复，已于 {at} "
               "升级至下一级负责人（第 {level} 级）。"),
    },
    # Claims: named by their own number, with the amount.
    "claim.submitted": {
        "en": ("Claim {claim} submitted: {amount}",
               "Claim {claim} for {amount} ({basis}) on quality dispute {dispute}, contract "
               "{contract}, was submitted at {at}."),
        "zh": ("索赔 {claim} 已提交：{amount}",
               "质量异议 {dispute}（合同 {contract}）的索赔 {claim} 已于 {at} 提交，金额 "
               "{amount}（{basis}）。"),
    },
    "claim.assessed": {
        "en": ("Claim {claim} assessed",
               "Claim {claim} for {amount} on quality dispute {dispute} was assessed at {at}; "
               "a decision follows."),
        "zh": ("索赔 {claim} 已评估",
               "质量异议 {dispute} 的索赔 {claim}（金额 {amount}）已于 {at} 评估，"
               "随后将作出决定。"),
    },
    "claim.agreed": {
        "en": ("Claim {claim} agreed: {agreed_amount}",
               "Claim {claim} on quality dispute {dispute} was agreed at {at} for "
               "{agreed_amount} (claimed {amount})."),
        "zh": ("索赔 {claim} 已同意：{agreed_amount}",
               "质量异议 {dispute} 的索赔 {claim} 已于 {at} 同意，金额 {agreed_amount}"
               "（索赔金额 {amount}）。"),
    },
    "claim.partially_agreed": {
        "en": ("Claim {claim} partially agreed: {agreed_amount}",
               "Claim {claim} on quality dispute {dispute} was partially agreed at {at}: "
               "{agreed_amount} of the {amount} claimed."),
        "zh": ("索赔 {claim} 部分同意：{agreed_amount}",
               "质量异议 {dispute} 的索赔 {claim} 已于 {at} 部分同意：索赔金额 {amount}，"
               "同意 {agreed_amount}。"),
    },
    "claim.rejected": {
        "en": ("Claim {claim} rejected",
               "Claim {claim} for {amount} on quality dispute {dispute} was rejected at {at}."),
        "zh": ("索赔 {claim} 已驳回",
               "质量异议 {dispute} 的索赔 {claim}（金额 {amount}）已于 {at} 被驳回。"),
    },
    "claim.withdrawn": {
        "en": ("Claim {claim} withdrawn",
               "Claim {claim} for {amount} on quality dispute {dispute} was withdrawn at {at}."),
        "zh": ("索赔 {claim} 已撤回",
               "质量异议 {dispute} 的索赔 {claim}（金额 {amount}）已于 {at} 撤回。"),
    },
    "claim.credited": {
        "en": ("Claim {claim} credited: {agreed_amount}",
               "Claim {claim} on quality dispute {dispute}: {agreed_amount} was credited "
               "with {credit_note} at {at}."),
        "zh": ("索赔 {claim} 已冲账：{agreed_amount}",
               "质量异议 {dispute} 的索赔 {claim}：{agreed_amount} 已于 {at} 以 "
               "{credit_note} 冲账。"),
    },
    # Service quality: a survey for the customer; low ratings and tiers for the mill.
    "service.survey_sent": {
        "en": ("Your opinion, please: {subject}",
               "{question} Rate it from 1 to 5 (survey {survey}) by {closesAt}."),
        "zh": ("请您评价：{subject}",
               "请为 {subject} 的服务评分（1 至 5 分，调查 {survey}），截止 {closesAt}。"),
    },
    "service.low_rating": {
        "en": ("Low rating from {customer}: {rating} of 5",
               "{contact} of {customer} rated {subject} {rating} of 5 (survey {survey}) at "
               "{at}: {comment}"),
        "zh": ("{customer} 低分评价：{rating} 分",
               "{customer} 的 {contact} 于 {at} 对 {subject} 评分 {rating} 分"
               "（调查 {survey}）：{comment}"),
    },
    "service.tier_changed": {
        "en": ("{customer} is now {tier}",
               "{customer} ranked {rank} by contribution ({contribution} {currency}, "
               "{from} to {to}) and is now in tier {tier} (was {previousTier})."),
        "zh": ("{customer} 现为 {tier} 级客户",
               "{customer} 按贡献排名第 {rank}（{from} 至 {to}，{contribution} {currency}），"
               "现为 {tier} 级（原为 {previousTier}）。"),
    },
    # The device registry: the mill's own events, named by the device's code.
    "device.registered": {
        "en": ("Device {device} registered",
               "Device {device} was registered at {at}; it may log in once the broker's "
               "access file is written again."),
        "zh": ("设备 {device} 已登记",
               "设备 {device} 已于 {at} 登记；重新生成消息代理的访问文件后即可登录。"),
    },
    "device.disabled": {
        "en": ("Device {device} disabled",
               "Device {device} was disabled at {at}: its messages are refused."),
        "zh": ("设备 {device} 已停用",
               "设备 {device} 已于 {at} 停用，其消息将被拒收。"),
    },
    "device.enabled": {
        "en": ("Device {device} enabled", "Device {device} was enabled again at {at}."),
        "zh": ("设备 {device} 已启用", "设备 {device} 已于 {at} 重新启用。"),
    },
    "device.password_rotated": {
        "en": ("Device {device}: new broker password",
               "Device {device} was given a new broker password at {at}; the old one stops "
               "working when the broker loads its access file again."),
        "zh": ("设备 {device} 已更换登录密码",
               "设备 {device} 已于 {at} 更换消息代理登录密码；消息代理重新加载访问文件后，"
               "旧密码失效。"),
    },
    "device.bound": {
        "en": ("Device {device} bound to {bound_to}",
               "Device {device} reports for {bound_to} from {at}."),
        "zh": ("设备 {device} 已绑定至 {bound_to}",
               "设备 {device} 自 {at} 起归属 {bound_to}。"),
    },
}

# What the mill's own staff read where the customer's wording would be wrong for them
# (the customer reads "your urge"; the mill answers it).
MILL_TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "urge.acknowledged": {
        "en": ("Urge {ticket} acknowledged",
               "The customer's urge {ticket} on line {lineNo} of contract {contract} was "
               "acknowledged at {at}; a promised date is owed next."),
        "zh": ("催货 {ticket} 已受理",
               "客户对合同 {contract} 第 {lineNo} 行的催货 {ticket} 已于 {at} 受理，"
               "下一步须承诺交货日期。"),
    },
    "urge.promised": {
        "en": ("Urge {ticket}: delivery promised for {promisedDate}",
               "Line {lineNo} of contract {contract} was promised to the customer for "
               "{promisedDate} (needed by {neededBy}) at {at}."),
        "zh": ("催货 {ticket}：承诺 {promisedDate} 交货",
               "已于 {at} 向客户承诺合同 {contract} 第 {lineNo} 行于 {promisedDate} 交货"
               "（客户需求日期 {neededBy}）。"),
    },
    "urge.resolved": {
        "en": ("Urge {ticket} resolved",
               "The customer's urge {ticket} on line {lineNo} of contract {contract} was "
               "resolved at {at}: {note}"),
        "zh": ("催货 {ticket} 已解决",
               "客户对合同 {contract} 第 {lineNo} 行的催货 {ticket} 已于 {at} 解决：{note}"),
    },
    "urge.escalated": {
        "en": ("Urge {ticket} escalated to {assignee}",
               "The urge {ticket} on line {lineNo} of contract {contract} was not answered "
               "in time and went to {assignee} (level {level}) at {at}."),
        "zh": ("催货 {ticket} 已升级至 {assignee}",
               "合同 {contract} 第 {lineNo} 行的催货 {ticket} 未按时答复，已于 {at} "
               "升级至 {assignee}（第 {level} 级）。"),
    },
}

# Codes that appear inside texts, as words. English words are the code with spaces.
CODES_ZH: dict[str, dict[str, str]] = {
    # Production stages (domain.contracts.stage_routes.STAGES).
    "stage": {
        "steelmaking": "炼钢", "casting": "连铸", "hot_rolling": "热轧", "pickling": "酸洗",
        "cold_rolling": "冷轧", "annealing": "退火", "coating": "镀层", "finishing": "精整",
        "inspection": "检验", "packing": "包装", "warehoused": "入库",
    },
    # Scan steps (scan_event.step).
    "step": {
        "loading": "装车", "departing": "发运", "arriving": "到达", "unloading": "卸货",
        "receiving": "签收", "transshipping": "转运",
    },
    # A claim's basis (domain.disputes.claims.BASES).
    "basis": {"replacement": "换货", "downgrade": "降级使用", "credit": "折让"},
}

# Events without a text of their own: "<area> <reference>: <happening>".
_AREAS = {
    "contract": ("Contract", "合同"), "contract_line": ("Contract line", "合同行"),
    "production": ("Production", "生产"), "quality": ("Quality", "质量"),
    "shipment": ("Shipment", "运单"), "urge": ("Urge", "催货"),
    "dispute": ("Quality dispute", "质量异议"), "claim": ("Claim", "索赔"),
    "purchase_plan": ("Purchase plan", "采购计划"),
    "production_plan": ("Production plan", "生产计划"), "bulletin": ("Bulletin", "资讯"),
    "settlement": ("Settlement", "结算"),
    # What the plant's systems feed (domain/feeds).
    "organization": ("Organization", "单位"), "site": ("Site", "地点"),
    "spec": ("Spec", "规格"), "vehicle": ("Vehicle", "车船"), "device": ("Device", "终端"),
    "heat": ("Heat", "炉号"), "slab": ("Slab", "板坯"), "coil": ("Coil", "钢卷"),
    "inspection": ("Inspection", "检验"), "production_order": ("Production order", "生产订单"),
    "certificate": ("Certificate", "质保书"), "exchange": ("Exchange", "数据交换"),
    "service": ("Service", "服务"),
    # Finance: a customer's credit and the payments against its invoices.
    "credit": ("Credit", "信用"), "payment": ("Payment", "付款"),
}
_HAPPENINGS_ZH = {
    "created": "已创建", "confirmed": "已确认", "in_production": "已投产", "changed": "已变更",
    "submitted": "已提交", "approved": "已批准", "rejected": "已驳回", "converted": "已转为合同",
    "change_requested": "申请变更", "change_answered": "变更已答复",
    "established": "已立案", "processing": "处理中", "claiming": "进入索赔",
    "correcting": "整改中", "completed": "已完成", "withdrawn": "已撤回",
    "assessed": "已评估", "agreed": "已同意", "partially_agreed": "部分同意",
    "credited": "已冲账", "feedback_recorded": "反馈已记录",
    "progress_recorded": "进度已记录", "acknowledged": "已受理", "promised": "已承诺",
    "resolved": "已解决", "opened": "已提出", "line_amended": "合同行已修改",
    "drawn_up": "已编制", "issued": "已开具", "paid": "已付款", "overdue": "已逾期",
    "voided": "已作废", "departed": "已发运", "arrived": "已到达", "delayed": "延误",
    "back_on_time": "恢复准时", "unloaded": "已卸货", "received": "已签收",
    "arrival_without_unload": "到达未卸货", "geofence_entered": "进入地理围栏",
    "geofence_exited": "离开地理围栏", "partially_shipped": "部分发运",
    "shipped": "已全部发运", "settled": "已结算",
    "containment_recorded": "围堵措施已记录", "root_cause_recorded": "根本原因已记录",
    "corrective_action_recorded": "纠正措施已记录",
    "preventive_action_recorded": "预防措施已记录",
    "verification_recorded": "验证已记录", "evidence_added": "已补充证据",
    "milestone_reached": "工序已完成", "predicted_late": "预计延期",
    "certificate_issued": "质保书已签发", "published": "已发布", "escalated": "已升级",
    "scan_far_from_vehicle": "扫描位置远离车辆", "coil_not_on_manifest": "钢卷不在装运清单上",
    "unknown_coil": "未知编码", "blocked_coil_loaded": "封存钢卷被装车",
    "updated": "已更新", "retired": "已停用", "cancelled": "已取消", "released": "已放行",
    "blocked": "已封存", "downgraded": "已降级",
    "address_registered": "地址已登记", "address_removed": "地址已删除",
    "document_failed": "单证发送失败", "document_accepted": "单证已接收",
    "document_refused": "单证被拒收", "document_resent": "单证已重发",
    "delivery_schedule_received": "交货计划已接收", "receipt_discrepancy": "收货差异",
    "spec_limits_changed": "规格限值已变更",
    "survey_sent": "满意度调查已发送", "low_rating": "低分评价", "tier_changed": "客户等级已变更",
    "approval_requested": "待财务审批", "limit_set": "信用额度已设定", "refused": "已拒绝",
}
_REFERENCES = ("claim", "dispute", "number", "contract", "shipment", "ticket",
               "certificate", "settlement", "key")
_GENERIC = {"en": ("{subject}: {happening}", "{subject}: {happening}, at {at}."),
            "zh": ("{subject}：{happening}", "{subject}：{happening}，时间 {at}。")}
_DIGEST = {
    "en": ("{count} updates", "{count} updates since {since}:"),
    "zh": ("{count} 条更新",
           "自 {since} 以来的 {count} 条更新："),
}
# Weights are tonnes in events; imperial readers get US short tons (2,000 lb).
_UNITS = {"metric": (Decimal(1), "t"), "imperial": (Decimal("1.10231131"), "sh tn")}


@dataclass(frozen=True, slots=True)
class Text:
    title: str
    body: str


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def _when(value: object, locale: Locale) -> str | None:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return None
        if moment.tzinfo is None:
            return str(value)  # a date: shown as it is
    return format_datetime(moment.astimezone(locale.zone), "yyyy-MM-dd HH:mm zzz",
                           tzinfo=locale.zone, locale=_BABEL[locale.language])


def weight(tonnes: object, locale: Locale) -> str:
    factor, symbol = _UNITS.get(locale.units, _UNITS["metric"])
    try:
        value = Decimal(str(tonnes)) * factor
    except InvalidOperation:
        return str(tonnes)
    shown = format_decimal(value.quantize(Decimal("0.001")).normalize(),
                           locale=_BABEL[locale.language])
    return f"{shown} {symbol}"


def money(amount: object, currency: str, locale: Locale) -> str:
    """An amount in its currency, as the reader's language writes it (CN¥1,234.50)."""
    try:
        value = Decimal(str(amount))
        return str(format_currency(value, currency.upper(), locale=_BABEL[locale.language]))
    except (InvalidOperation, ValueError):
        return f"{amount} {currency}"


def code_word(kind: str, code: str, locale: Locale) -> str:
    """A code of ``kind`` (a stage, a scan step, a basis) as a word of the language."""
    if locale.language == "zh":
        found = CODES_ZH.get(kind, {}).get(code)
        if found is not None:
            return found
    return code.replace("_", " ")


def _fields(event_type: str, payload: dict[str, Any], occurred_at: datetime,
            locale: Locale) -> _Fields:
    f = _Fields({k: v for k, v in payload.items() if isinstance(v, str | int | float | Decimal)})
    f["event_type"] = event_type
    f["at"] = _when(occurred_at, locale)
    details = payload.get("details")
    if isinstance(details, dict):
        for key in ("eta", "promised_by"):
            if key in details:
                f[key] = _when(details[key], locale) or details[key]
        for key in ("code", "step", "distance_km"):  # a scan's
            if key in details and key not in f:
                f[key] = details[key]
        if "eta" in details and "promised_by" in details:
            try:
                late = datetime.fromisoformat(details["eta"]) - datetime.fromisoformat(
                    details["promised_by"])
                f["delay_hours"] = format_decimal(round(late.total_seconds() / 3600, 1),
                                                  locale=_BABEL[locale.language])
            except (TypeError, ValueError):
                pass
    if isinstance(payload.get("closesAt"), str):  # a survey's
        f["closesAt"] = _when(payload["closesAt"], locale) or payload["closesAt"]
    if "comment" in payload and not payload["comment"]:
        f["comment"] = "-"
    for key in CODES_ZH:
        if isinstance(f.get(key), str):
            f[key] = code_word(key, f[key], locale)
    if "tonnes" in payload:
        f["tonnes"] = weight(payload["tonnes"], locale)
    currency = payload.get("currency")
    if isinstance(currency, str):
        for key in ("amount", "agreed_amount"):
            if key in payload and payload[key] is not None:
                f[key] = money(payload[key], currency, locale)
    if "body" in payload and "summary" not in payload:
        body = str(payload["body"])
        f["summary"] = body if len(body) <= 280 else body[:277] + "..."
    return f


def _generic(event_type: str, payload: dict[str, Any], fields: _Fields,
             language: str) -> tuple[str, str]:
    area, _, happening = event_type.partition(".")
    zh = language == "zh"
    names = _AREAS.get(area, (area.replace("_", " ").capitalize(),
                              area.replace("_", " ")))
    reference = next((str(payload[k]) for k in _REFERENCES
                      if isinstance(payload.get(k), str | int)), None)
    fields["subject"] = names[1 if zh else 0] + (f" {reference}" if reference else "")
    fields["happening"] = (_HAPPENINGS_ZH.get(happening, happening.replace("_", " ")) if zh
                           else happening.replace("_", " "))
    return _GENERIC["zh" if zh else "en"]


def render(event_type: str, payload: dict[str, Any], occurred_at: datetime,
           locale: Locale) -> Text:
    fields = _fields(event_type, payload, occurred_at, locale)
    by_language = (MILL_TEXTS.get(event_type) if locale.audience == "mill" else None) \
        or TEXTS.get(event_type)
    if by_language is None:
        title, body = _generic(event_type, payload, fields, locale.language)
    else:
        title, body = by_language.get(locale.language, by_language["en"])
    fmt = string.Formatter()
    return Text(fmt.vformat(title, (), fields), fmt.vformat(body, (), fields))


def render_digest(items: list[tuple[str, str]], since: datetime, locale: Locale) -> Text:
    """One text for several: a count in the title, each item's title in the body."""
    title, head = _DIGEST.get(locale.language, _DIGEST["en"])
    fields = _Fields(count=len(items), since=_when(since, locale))
    lines = [head.format_map(fields), *(f"- {t}" for t, _ in items)]
    return Text(title.format_map(fields), "\n".join(lines))
