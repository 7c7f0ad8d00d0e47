"""The prompt catalogue: every sentence the hotline says, per language.

Prompts are named by id; the Twilio renderer speaks ``prompt_text(id,
language)``, the Asterisk side plays ``<language>/<id>`` sound files that
are generated from the same text (espeak-ng), so the two carriers say the
same words.

Guarantees: every id in :data:`PROMPT_IDS` has text in every language of
:data:`LANGUAGES` (zh-CN first, the default); texts take no parameters
unless their braces say so, so pre-recorded sound files are complete.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES: tuple[str, ...] = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"


class UnknownPrompt(KeyError):
    """No such prompt id in the catalogue; add it to ivr/prompts.py."""


_CATALOGUE: dict[str, dict[str, str]] = {
    "greeting": {
        "zh-CN": "您好，欢迎致电客户服务热线。",
        "en": "Hello, and welcome to the customer service hotline.",
    },
    "main_menu": {
        "zh-CN": "投诉请按1，评价您最近一次的上门服务请按2，预约回电请按3，"
        "查询投诉处理进度请按4，人工服务请按0，重听请按9。For English, press 8.",
        "en": "For a complaint, press 1. To rate your last service visit, press 2. "
        "To ask for a callback, press 3. To hear the status of a complaint, press 4. "
        "To speak to an agent, press 0. To hear these options again, press 9. "
        "For service in Chinese, press 8.",
    },
    "invalid_choice": {
        "zh-CN": "对不起，您的输入无效。",
        "en": "Sorry, that is not a valid choice.",
    },
    "no_input": {
        "zh-CN": "对不起，我们没有收到您的按键。",
        "en": "Sorry, we did not receive your choice.",
    },
    "complaint_category": {
        "zh-CN": "请选择投诉类别：维修质量请按1，服务态度请按2，服务及时性请按3，"
        "收费问题请按4，其他问题请按5。返回上一级请按星号键。",
        "en": "Please choose the kind of complaint. Repair quality, press 1. "
        "Service attitude, press 2. Timeliness, press 3. Billing, press 4. "
        "Anything else, press 5. To go back, press star.",
    },
    "complaint_record": {
        "zh-CN": "请在提示音后说明您遇到的问题，最长两分钟，说完请按井号键。",
        "en": "After the tone, please describe the problem, for up to two minutes. "
        "Press hash when you have finished.",
    },
    "complaint_ticket_intro": {
        "zh-CN": "您的投诉已受理，投诉单号是：",
        "en": "Your complaint has been registered. Your ticket number is:",
    },
    "complaint_thanks": {
        "zh-CN": "感谢您的反馈，我们会尽快处理，并由专人与您联系。",
        "en": "Thank you. A named member of staff will handle it and contact you.",
    },
    "after_menu": {
        "zh-CN": "返回主菜单请按1，结束通话请按2，人工服务请按0。",
        "en": "To return to the main menu, press 1. To end the call, press 2. "
        "To speak to an agent, press 0.",
    },
    "survey_no_recent_job": {
        "zh-CN": "我们没有找到您最近完成的服务记录。",
        "en": "We could not find a recent completed service visit for your number.",
    },
    "survey_enter_reference": {
        "zh-CN": "请输入您的服务单号，以井号键结束。返回上一级请按星号键。",
        "en": "Please enter your service job number, followed by hash. To go back, press star.",
    },
    "survey_job_not_found": {
        "zh-CN": "对不起，没有找到这个服务单号。",
        "en": "Sorry, we could not find that job number.",
    },
    "survey_intro": {
        "zh-CN": "请为您最近一次的上门服务评分。每一项请按1到5：1表示非常满意，5表示非常不满意。",
        "en": "Please rate your last service visit. For each question press 1 to 5: "
        "1 means very satisfied, 5 means very dissatisfied.",
    },
    "survey_timeliness": {
        "zh-CN": "第一项，服务及时性，请按1到5。",
        "en": "First, how timely was the service? Press 1 to 5.",
    },
    "survey_repair_quality": {
        "zh-CN": "第二项，维修质量，请按1到5。",
        "en": "Second, the quality of the repair. Press 1 to 5.",
    },
    "survey_attitude": {
        "zh-CN": "第三项，服务态度，请按1到5。",
        "en": "Third, the attitude of our staff. Press 1 to 5.",
    },
    "survey_readback_intro": {"zh-CN": "您的评价是：", "en": "You answered:"},
    "item_timeliness": {"zh-CN": "服务及时性，", "en": "timeliness,"},
    "item_repair_quality": {"zh-CN": "维修质量，", "en": "repair quality,"},
    "item_attitude": {"zh-CN": "服务态度，", "en": "attitude,"},
    "grade_A": {"zh-CN": "非常满意。", "en": "very satisfied."},
    "grade_B": {"zh-CN": "满意。", "en": "satisfied."},
    "grade_C": {"zh-CN": "一般。", "en": "neither satisfied nor dissatisfied."},
    "grade_D": {"zh-CN": "不满意。", "en": "dissatisfied."},
    "grade_E": {"zh-CN": "非常不满意。", "en": "very dissatisfied."},
    "survey_confirm": {
        "zh-CN": "确认请按1，重新评分请按2。",
        "en": "To confirm, press 1. To answer again, press 2.",
    },
    "survey_thanks": {
        "zh-CN": "您的评价已保存，感谢您的支持。",
        "en": "Your answers have been saved. Thank you.",
    },
    "callback_menu": {
        "zh-CN": "今天回电请按1，明天上午回电请按2，明天下午回电请按3。返回上一级请按星号键。",
        "en": "For a call back today, press 1. Tomorrow morning, press 2. "
        "Tomorrow afternoon, press 3. To go back, press star.",
    },
    "callback_today_unavailable": {
        "zh-CN": "今天的回电时间已过。",
        "en": "It is too late for a call back today.",
    },
    "callback_menu_late": {
        "zh-CN": "明天上午回电请按2，明天下午回电请按3。返回上一级请按星号键。",
        "en": "For a call back tomorrow morning, press 2. Tomorrow afternoon, press 3. "
        "To go back, press star.",
    },
    "callback_confirmed_today": {
        "zh-CN": "好的，我们将在今天给您回电。",
        "en": "Thank you. We will call you back today.",
    },
    "callback_confirmed_tomorrow_morning": {
        "zh-CN": "好的，我们将在明天上午给您回电。",
        "en": "Thank you. We will call you back tomorrow morning.",
    },
    "callback_confirmed_tomorrow_afternoon": {
        "zh-CN": "好的，我们将在明天下午给您回电。",
        "en": "Thank you. We will call you back tomorrow afternoon.",
    },
    "agents_closed": {
        "zh-CN": "现在是非工作时间，人工客服暂时无法接听，我们可以为您预约回电。",
        "en": "Our agents are not available at this hour. We can call you back instead.",
    },
    "agent_transfer": {
        "zh-CN": "正在为您转接人工客服，请稍候。",
        "en": "Please hold while we connect you to an agent.",
    },
    "system_error": {
        "zh-CN": "对不起，系统暂时无法处理您的请求。",
        "en": "Sorry, we cannot complete your request right now.",
    },
    "goodbye": {
        "zh-CN": "感谢您的来电，再见。",
        "en": "Thank you for calling. Goodbye.",
    },
    "goodbye_unresolved": {
        "zh-CN": "对不起，这次没能帮到您，请在工作时间再次来电。再见。",
        "en": "Sorry we could not help you this time. Please call again during "
        "opening hours. Goodbye.",
    },
    # --- complaint status (002) -----------------------------------------------
    "status_menu": {
        "zh-CN": "输入投诉单号查询请按1，查询您这个号码的未结投诉请按2。返回上一级请按星号键。",
        "en": "To enter a ticket number, press 1. To hear the open complaints on the number "
        "you are calling from, press 2. To go back, press star.",
    },
    "status_enter_ticket": {
        "zh-CN": "请输入投诉单号，以井号键结束。返回上一级请按星号键。",
        "en": "Please enter the ticket number, followed by hash. To go back, press star.",
    },
    "status_not_found": {
        "zh-CN": "对不起，没有找到这个投诉单号。",
        "en": "Sorry, we could not find that ticket number.",
    },
    "status_none_open": {
        "zh-CN": "您拨打的号码下没有未结的投诉。",
        "en": "We found no open complaint for the number you are calling from.",
    },
    "status_intro": {
        "zh-CN": "以下是您的投诉处理进度。",
        "en": "Here is the status of your complaint.",
    },
    "status_ticket": {"zh-CN": "投诉单号", "en": "Ticket number"},
    "status_department": {"zh-CN": "负责部门：", "en": "It is handled by"},
    "status_due": {"zh-CN": "预计处理期限：", "en": "It is due by"},
    "state_new": {"zh-CN": "状态：已受理，等待分派。", "en": "has been registered and is waiting to be assigned."},
    "state_assigned": {"zh-CN": "状态：已分派专人负责。", "en": "has been assigned to a named member of staff."},
    "state_in_progress": {"zh-CN": "状态：正在处理中。", "en": "is being worked on."},
    "state_resolved": {"zh-CN": "状态：已处理完毕。", "en": "has been resolved."},
    "state_closed": {"zh-CN": "状态：已结案。", "en": "is closed."},
    "state_reopened": {"zh-CN": "状态：已重新处理。", "en": "has been reopened and is being worked on again."},
    "month_1": {"zh-CN": "1月", "en": "January"},
    "month_2": {"zh-CN": "2月", "en": "February"},
    "month_3": {"zh-CN": "3月", "en": "March"},
    "month_4": {"zh-CN": "4月", "en": "April"},
    "month_5": {"zh-CN": "5月", "en": "May"},
    "month_6": {"zh-CN": "6月", "en": "June"},
    "month_7": {"zh-CN": "7月", "en": "July"},
    "month_8": {"zh-CN": "8月", "en": "August"},
    "month_9": {"zh-CN": "9月", "en": "September"},
    "month_10": {"zh-CN": "10月", "en": "October"},
    "month_11": {"zh-CN": "11月", "en": "November"},
    "month_12": {"zh-CN": "12月", "en": "December"},
    "day_1": {"zh-CN": "1日。", "en": "the 1st."},
    "day_2": {"zh-CN": "2日。", "en": "the 2nd."},
    "day_3": {"zh-CN": "3日。", "en": "the 3rd."},
    "day_4": {"zh-CN": "4日。", "en": "the 4th."},
    "day_5": {"zh-CN": "5日。", "en": "the 5th."},
    "day_6": {"zh-CN": "6日。", "en": "the 6th."},
    "day_7": {"zh-CN": "7日。", "en": "the 7th."},
    "day_8": {"zh-CN": "8日。", "en": "the 8th."},
    "day_9": {"zh-CN": "9日。", "en": "the 9th."},
    "day_10": {"zh-CN": "10日。", "en": "the 10th."},
    "day_11": {"zh-CN": "11日。", "en": "the 11th."},
    "day_12": {"zh-CN": "12日。", "en": "the 12th."},
    "day_13": {"zh-CN": "13日。", "en": "the 13th."},
    "day_14": {"zh-CN": "14日。", "en": "the 14th."},
    "day_15": {"zh-CN": "15日。", "en": "the 15th."},
    "day_16": {"zh-CN": "16日。", "en": "the 16th."},
    "day_17": {"zh-CN": "17日。", "en": "the 17th."},
    "day_18": {"zh-CN": "18日。", "en": "the 18th."},
    "day_19": {"zh-CN": "19日。", "en": "the 19th."},
    "day_20": {"zh-CN": "20日。", "en": "the 20th."},
    "day_21": {"zh-CN": "21日。", "en": "the 21st."},
    "day_22": {"zh-CN": "22日。", "en": "the 22nd."},
    "day_23": {"zh-CN": "23日。", "en": "the 23rd."},
    "day_24": {"zh-CN": "24日。", "en": "the 24th."},
    "day_25": {"zh-CN": "25日。", "en": "the 25th."},
    "day_26": {"zh-CN": "26日。", "en": "the 26th."},
    "day_27": {"zh-CN": "27日。", "en": "the 27th."},
    "day_28": {"zh-CN": "28日。", "en": "the 28th."},
    "day_29": {"zh-CN": "29日。", "en": "the 29th."},
    "day_30": {"zh-CN": "30日。", "en": "the 30th."},
    "day_31": {"zh-CN": "31日。", "en": "the 31st."},
    # --- a callback number keyed by a caller we cannot call back ------------------
    "callback_enter_number": {
        "zh-CN": "我们无法识别您的来电号码。请输入您的回电号码，固定电话请加区号，以井号键结束。",
        "en": "We cannot see the number you are calling from. Please enter the number we "
        "should call you back on, with the area code for a landline, followed by hash.",
    },
    "callback_number_invalid": {
        "zh-CN": "对不起，这个号码无法回电，请检查后重新输入。",
        "en": "Sorry, we cannot call that number. Please check it and enter it again.",
    },
    "callback_number_readback": {
        "zh-CN": "您输入的回电号码是：",
        "en": "The number you entered is:",
    },
    "callback_number_confirm": {
        "zh-CN": "确认请按1，重新输入请按2，重听请按9。",
        "en": "If it is right, press 1. To enter it again, press 2. To hear it again, press 9.",
    },
    "followup_state_new": {"zh-CN": "您的投诉已受理。", "en": "Your complaint is registered."},
    "followup_state_assigned": {
        "zh-CN": "您的投诉已分派专人负责。", "en": "Your complaint has a named owner."},
    "followup_state_in_progress": {
        "zh-CN": "您的投诉正在处理中。", "en": "Your complaint is being worked on."},
    "followup_state_resolved": {
        "zh-CN": "您的投诉已处理完毕。", "en": "Your complaint has been resolved."},
    "followup_state_closed": {"zh-CN": "您的投诉已结案。", "en": "Your complaint is closed."},
    "followup_state_reopened": {
        "zh-CN": "您的投诉已重新处理。", "en": "Your complaint has been reopened."},
    # --- outbound calls (ivr.outbound) ---------------------------------------
    "outbound_goodbye": {
        "zh-CN": "感谢您的配合，再见。",
        "en": "Thank you for your time. Goodbye.",
    },
    "outbound_no_response": {
        "zh-CN": "对不起，我们没有收到您的回答。感谢您接听，再见。",
        "en": "Sorry, we did not receive your answer. Thank you for taking our call. Goodbye.",
    },
    "outbound_agents_closed": {
        "zh-CN": "对不起，工作人员暂时无法接听，我们会再与您联系。再见。",
        "en": "Sorry, none of our staff can take the call right now. "
        "We will contact you again. Goodbye.",
    },
    "post_repair_greeting": {
        "zh-CN": "您好，这里是客户服务中心。关于您服务单号为",
        "en": "Hello, this is the customer service centre, calling about your service "
        "visit, job number",
    },
    "post_repair_intro": {
        "zh-CN": "的上门维修服务，想请您花一分钟做个回访评价。每一项请按1到5："
        "1表示非常满意，5表示非常不满意。需要人工服务请按0。",
        "en": ". We would like a minute of your time to rate it. For each question press "
        "1 to 5: 1 means very satisfied, 5 means very dissatisfied. To speak to a member "
        "of staff, press 0.",
    },
    "followup_greeting": {
        "zh-CN": "您好，这里是客户服务中心。关于您投诉单号为",
        "en": "Hello, this is the customer service centre, following up your complaint, "
        "ticket number",
    },
    "followup_intro": {
        "zh-CN": "的投诉，我们想了解处理结果和我们的服务。",
        "en": ". We would like to hear how it was resolved and how we served you.",
    },
    "followup_resolved": {
        "zh-CN": "您的投诉是否已经得到满意的解决？满意请按1，不满意请按2。需要人工服务请按0。",
        "en": "Was your complaint resolved to your satisfaction? For yes, press 1. "
        "For no, press 2. To speak to a member of staff, press 0.",
    },
    "followup_service": {
        "zh-CN": "请为我们的服务打分，请按1到5：1表示非常满意，5表示非常不满意。",
        "en": "How do you rate our service? Press 1 to 5: 1 means very satisfied, "
        "5 means very dissatisfied.",
    },
    "followup_thanks_yes": {
        "zh-CN": "感谢您的反馈，您的投诉将予以结案。",
        "en": "Thank you for your answers. Your complaint will now be closed.",
    },
    "followup_thanks_no": {
        "zh-CN": "非常抱歉没有让您满意。您的投诉将重新处理，并由专人尽快与您联系。",
        "en": "We are sorry it was not resolved to your satisfaction. Your complaint will "
        "be reopened, and a named member of staff will contact you soon.",
    },
    "verify_greeting": {
        "zh-CN": "您好，这里是客户服务中心监察部。关于您服务单号为",
        "en": "Hello, this is the customer service supervision department, calling about "
        "your service visit, job number",
    },
    "verify_intro": {
        "zh-CN": "的上门服务，我们想核实您在意见反馈表上的评价。",
        "en": ". We would like to check the grades recorded on your feedback form.",
    },
    "verify_readback_intro": {
        "zh-CN": "反馈表上记录的评价是：",
        "en": "The form records:",
    },
    "verify_correct": {
        "zh-CN": "记录正确请按1，不正确请按2。需要人工服务请按0。",
        "en": "If this is correct, press 1. If it is not correct, press 2. "
        "To speak to a member of staff, press 0.",
    },
    "verify_reenter_offer": {
        "zh-CN": "请告诉我们您实际给出的评价：重新评分请按1，不评分请按2。",
        "en": "Please tell us the grades you actually gave. To rate the visit again, "
        "press 1. Otherwise, press 2.",
    },
    "verify_thanks": {
        "zh-CN": "感谢您的配合，核实结果已记录。",
        "en": "Thank you. Your answer has been recorded.",
    },
    "requested_callback_greeting": {
        "zh-CN": "您好，这里是客户服务中心，这是您预约的回电。",
        "en": "Hello, this is the customer service centre returning your call, as you asked.",
    },
}

#: Every prompt id, in catalogue order (the Asterisk side makes one sound
#: file per id and language).
PROMPT_IDS: tuple[str, ...] = tuple(_CATALOGUE)


def normalize_language(language: str) -> str:
    """Map what adapters send (``zh``, ``zh-cn``, ``en-US``...) to a
    catalogue language; anything unknown falls back to zh-CN."""
    lowered = language.strip().lower()
    if lowered.startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


def has_prompt(prompt_id: str, language: str) -> bool:
    return bool(_CATALOGUE.get(prompt_id, {}).get(language))


def prompt_text(
    prompt_id: str, language: str = DEFAULT_LANGUAGE, params: Mapping[str, str] | None = None
) -> str:
    """The sentence to speak; raises :class:`UnknownPrompt` for an unknown id."""
    try:
        texts = _CATALOGUE[prompt_id]
    except KeyError:
        raise UnknownPrompt(f"no prompt {prompt_id!r}; add it to ivr/prompts.py") from None
    text = texts[normalize_language(language)]
    return text.format_map(dict(params)) if params else text
